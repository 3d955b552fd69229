//! Which URLs a miner may make the validator fetch (SSRF policy).
//!
//! A miner hands the validator a Zarr store location. The validator only ever fetches from the
//! miner's own registered address: a relative `/forecasts/...` path is joined to it, an absolute
//! URL must name exactly that host and port, the path must stay under `/forecasts/`, and the
//! registered address itself must be a public one — loopback, private, link-local, shared,
//! multicast and unspecified addresses are refused unless explicitly allowed (the demo and the
//! tests run their miners on loopback).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A miner's registered address (from the metagraph).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinerAddress {
    /// IP address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// `https` for real miners (fiber), `http` for the plain local transport.
    pub scheme: &'static str,
}

impl MinerAddress {
    /// `scheme://ip:port`.
    pub fn base_url(&self) -> String {
        match self.ip {
            IpAddr::V4(ip) => format!("{}://{ip}:{}", self.scheme, self.port),
            IpAddr::V6(ip) => format!("{}://[{ip}]:{}", self.scheme, self.port),
        }
    }
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    /// The miner's address is not a public one and private addresses are not allowed.
    #[error("miner address {0} is not public (loopback/private/link-local/reserved) and private addresses are not allowed")]
    NonPublicAddress(IpAddr),
    /// An absolute URL names another host or port than the miner's.
    #[error("store URL points at {got}, not at the miner's registered address {expected}")]
    ForeignHost {
        /// The miner's `ip:port`.
        expected: String,
        /// What the URL names.
        got: String,
    },
    /// Not http(s).
    #[error("store URL scheme {0:?} is not allowed")]
    Scheme(String),
    /// The path leaves `/forecasts/` or contains `..`, a query or a fragment.
    #[error("store URL path {0:?} is outside /forecasts/")]
    Path(String),
    /// Empty or unparseable.
    #[error("store URL {0:?} is malformed")]
    Malformed(String),
}

/// The policy in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Allow loopback and private miner addresses (demo, tests, private test networks).
    pub allow_private: bool,
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    let shared = o[0] == 100 && (64..128).contains(&o[1]);
    let benchmarking = o[0] == 198 && (o[1] == 18 || o[1] == 19);
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || shared
        || benchmarking
        || o[0] == 0
        || o[0] >= 240)
}

/// The IPv4 address embedded in the low 32 bits of `ip`.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let seg = ip.segments();
    // Forms that carry an IPv4 address, which reach that address: NAT64's well-known prefix
    // 64:ff9b::/96 and 6to4 2002:AABB:CCDD::/48 are public only when the embedded address is.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(low_v4(ip));
    }
    if seg[0] == 0x2002 {
        let [a, b] = seg[1].to_be_bytes();
        let [c, d] = seg[2].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    // IPv4-compatible ::a.b.c.d (deprecated, ::1 and :: included), local-use NAT64
    // 64:ff9b:1::/48, Teredo 2001::/32, discard-only 100::/64 and documentation 2001:db8::/32
    // are never a miner's public address.
    let ipv4_compatible = seg[..6] == [0; 6];
    let local_nat64 = seg[..3] == [0x64, 0xff9b, 1];
    let teredo = seg[..2] == [0x2001, 0];
    let discard = seg[..4] == [0x100, 0, 0, 0];
    let documentation = seg[..2] == [0x2001, 0xdb8];
    let unique_local = seg[0] & 0xfe00 == 0xfc00;
    let link_local = seg[0] & 0xffc0 == 0xfe80;
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ipv4_compatible
        || local_nat64
        || teredo
        || discard
        || documentation
        || unique_local
        || link_local)
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

impl UrlPolicy {
    /// Check that the miner's own address may be contacted.
    pub fn check_miner(&self, miner: &MinerAddress) -> Result<(), UrlRefusal> {
        if !self.allow_private && !is_public(miner.ip) {
            return Err(UrlRefusal::NonPublicAddress(miner.ip));
        }
        Ok(())
    }

    /// Turn the store location a miner returned into the URL the validator will read.
    pub fn resolve_store_url(
        &self,
        miner: &MinerAddress,
        returned: &str,
    ) -> Result<String, UrlRefusal> {
        self.check_miner(miner)?;
        let returned = returned.trim();
        if returned.is_empty() || returned.len() > 2048 || returned.chars().any(|c| c.is_control())
        {
            return Err(UrlRefusal::Malformed(returned.chars().take(100).collect()));
        }
        let path = if returned.starts_with('/') {
            returned.to_string()
        } else {
            let (scheme, rest) = returned
                .split_once("://")
                .ok_or_else(|| UrlRefusal::Malformed(returned.into()))?;
            if scheme != "http" && scheme != "https" {
                return Err(UrlRefusal::Scheme(scheme.to_string()));
            }
            let (authority, path) = rest
                .find('/')
                .map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
            let expected = miner
                .base_url()
                .split_once("://")
                .map(|(_, a)| a.to_string())
                .unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or(authority);
            if !host.eq_ignore_ascii_case(&expected) {
                return Err(UrlRefusal::ForeignHost {
                    expected,
                    got: host.to_string(),
                });
            }
            path.to_string()
        };
        let bad_segment = path
            .split('/')
            .any(|s| s == ".." || s == "." || s.contains('\\'));
        if !path.starts_with("/forecasts/") || bad_segment || path.contains(['?', '#', '%']) {
            return Err(UrlRefusal::Path(path));
        }
        Ok(format!("{}{path}", miner.base_url()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miner(ip: &str) -> MinerAddress {
        MinerAddress {
            ip: ip.parse().unwrap(),
            port: 8091,
            scheme: "https",
        }
    }

    #[test]
    fn relative_and_matching_absolute_urls_resolve_to_the_miner() {
        let p = UrlPolicy::default();
        let m = miner("81.2.69.7");
        assert_eq!(
            p.resolve_store_url(&m, "/forecasts/a.zarr").unwrap(),
            "https://81.2.69.7:8091/forecasts/a.zarr"
        );
        assert_eq!(
            p.resolve_store_url(&m, "https://81.2.69.7:8091/forecasts/a.zarr/")
                .unwrap(),
            "https://81.2.69.7:8091/forecasts/a.zarr/"
        );
    }

    #[test]
    fn urls_pointing_elsewhere_are_refused_with_a_named_reason() {
        let p = UrlPolicy::default();
        let m = miner("81.2.69.7");
        let cases = [
            (
                "https://169.254.169.254:8091/forecasts/x.zarr",
                "not at the miner's registered address",
            ),
            (
                "https://81.2.69.7:9999/forecasts/x.zarr",
                "not at the miner's registered address",
            ),
            (
                "https://user@evil.example/forecasts/x.zarr",
                "not at the miner's registered address",
            ),
            ("file:///etc/passwd", "scheme"),
            ("/forecasts/../../etc/passwd", "outside /forecasts/"),
            ("/admin", "outside /forecasts/"),
            ("/forecasts/a.zarr?x=http://evil", "outside /forecasts/"),
            ("", "malformed"),
            ("no-scheme", "malformed"),
        ];
        for (url, why) in cases {
            let err = p.resolve_store_url(&m, url).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
        }
    }

    #[test]
    fn private_miner_addresses_need_explicit_permission() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
            // Issue 15 point 9: loopback and private addresses in IPv6 clothing.
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::5102:4507",
            "2002:7f00:1::1",
            "2002:c0a8:1::1",
            "2001:0:4136:e378::1",
            "2001:db8::1",
            "100::1",
        ] {
            let m = miner(ip);
            let err = UrlPolicy::default()
                .resolve_store_url(&m, "/forecasts/a.zarr")
                .unwrap_err();
            assert_eq!(err, UrlRefusal::NonPublicAddress(m.ip), "{ip}");
            let allowed = UrlPolicy {
                allow_private: true,
            }
            .resolve_store_url(&m, "/forecasts/a.zarr");
            assert!(allowed.is_ok(), "{ip}: {allowed:?}");
        }
        assert!(is_public("2a01:4f8::1".parse().unwrap()));
        // The same forms around a public IPv4 address (81.2.69.7) are public.
        for ip in [
            "64:ff9b::5102:4507",
            "2002:5102:4507::1",
            "::ffff:81.2.69.7",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        assert_eq!(miner("::1").base_url(), "https://[::1]:8091");
    }
}
