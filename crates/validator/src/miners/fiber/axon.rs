//! From a chain axon to the address fiber connects to (miner-protocol.md §1, chain.md §2.4):
//! the axon IP is an integer (IPv4 in the low 32 bits, big-endian; IPv6 the full 128 bits),
//! fiber hands it on as the decimal string of that integer, and Gaia always connects with
//! `https://` whatever the axon's `protocol` says. An axon with ip 0 or port 0 was never served.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::miners::url_policy::MinerAddress;

/// The IP of an axon: `ip_type` 4 takes the low 32 bits, 6 the whole value. `None` for 0 or
/// an IPv4 value that does not fit 32 bits or an unknown type.
pub fn axon_ip(ip: u128, ip_type: u8) -> Option<IpAddr> {
    if ip == 0 {
        return None;
    }
    match ip_type {
        4 => u32::try_from(ip)
            .ok()
            .map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        6 => Some(IpAddr::V6(Ipv6Addr::from(ip))),
        _ => None,
    }
}

/// Parse the IP as fiber's node list carries it: a decimal integer string (`"3232235777"`),
/// or an address already in dotted / colon form. Digit-only values up to 2^32 − 1 are IPv4,
/// larger ones IPv6 (as Gaia's `inet_ntoa(pack("!I", ip))` and `ipaddress` conversions).
pub fn parse_axon_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let v: u128 = t.parse().ok()?;
        return axon_ip(v, if v <= u128::from(u32::MAX) { 4 } else { 6 });
    }
    t.parse().ok().filter(|ip: &IpAddr| !ip.is_unspecified())
}

/// The HTTPS address of a served axon, or `None` when it was never served (ip or port 0).
pub fn axon_address(ip: u128, ip_type: u8, port: u16) -> Option<MinerAddress> {
    if port == 0 {
        return None;
    }
    Some(MinerAddress {
        ip: axon_ip(ip, ip_type)?,
        port,
        scheme: "https",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_integers_become_https_addresses() {
        // chain.md §2.4: 192.168.1.1 ↔ 3232235777.
        let a = axon_address(3_232_235_777, 4, 33333).unwrap();
        assert_eq!(a.base_url(), "https://192.168.1.1:33333");
        assert_eq!(
            parse_axon_ip("3232235777"),
            Some("192.168.1.1".parse().unwrap())
        );
        assert_eq!(parse_axon_ip("8.8.4.4"), Some("8.8.4.4".parse().unwrap()));
        assert_eq!(
            parse_axon_ip(" 16843009 "),
            Some("1.1.1.1".parse().unwrap())
        );
        let v6 = axon_address(0x2001_0db8_0000_0000_0000_0000_0000_0001, 6, 443).unwrap();
        assert_eq!(v6.base_url(), "https://[2001:db8::1]:443");
        assert_eq!(
            parse_axon_ip("42540766411282592856903984951653826561"),
            Some("2001:db8::1".parse().unwrap())
        );
        // Never served, malformed, or inconsistent.
        assert!(axon_address(0, 4, 33333).is_none());
        assert!(axon_address(3_232_235_777, 4, 0).is_none());
        assert!(axon_address(1 << 40, 4, 1).is_none());
        assert!(axon_address(1, 7, 1).is_none());
        assert_eq!(parse_axon_ip("0"), None);
        assert_eq!(parse_axon_ip("0.0.0.0"), None);
        assert_eq!(parse_axon_ip("not an ip"), None);
        assert_eq!(parse_axon_ip(""), None);
    }
}
