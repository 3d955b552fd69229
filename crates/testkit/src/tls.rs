//! A test PKI for TLS over loopback (`tls/README.md` says how it was made): a CA and a server
//! certificate it signed for `127.0.0.1`/`localhost` with its key. The chain client's `wss://`
//! test and the PostgreSQL-over-TLS test trust the CA; nothing outside tests ever does.

use base64::Engine as _;

/// The CA certificate (DER).
pub const CA_DER: &[u8] = include_bytes!("../tls/ca.der");
/// The server certificate (DER): CN and SAN `127.0.0.1`, SAN `localhost`, serverAuth.
pub const SERVER_CERT_DER: &[u8] = include_bytes!("../tls/node.der");
/// The server certificate's P-256 key (PKCS#8 DER).
pub const SERVER_KEY_DER: &[u8] = include_bytes!("../tls/node.key.pk8.der");

/// `der` as PEM with the given label (`CERTIFICATE`, `PRIVATE KEY`).
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_wraps_der_at_64_columns() {
        let text = pem("CERTIFICATE", CA_DER);
        assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(text.ends_with("-----END CERTIFICATE-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64));
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        let back = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(back, CA_DER);
    }
}
