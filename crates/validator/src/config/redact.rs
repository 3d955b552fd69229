//! Redaction of secrets in connection URLs, so that settings, logs and errors can be printed.

/// Replace the password of a URL (`scheme://user:password@host/...`) and any `password=` query
/// parameter with `***`. Text that is not a URL comes back unchanged.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_password_in_userinfo_and_query() {
        assert_eq!(redact_url("postgres://gaia:s3cret@db:5432/gaia"), "postgres://gaia:***@db:5432/gaia");
        assert_eq!(redact_url("postgres://gaia@db/gaia"), "postgres://gaia@db/gaia");
        assert_eq!(
            redact_url("postgres://db/gaia?user=a&password=pw&sslmode=off"),
            "postgres://db/gaia?user=a&password=***&sslmode=off"
        );
        assert_eq!(redact_url("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite://./data/gaia.db"), "sqlite://./data/gaia.db");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
