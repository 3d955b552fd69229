//! Database URLs: which backend a URL selects, and its redacted form for errors and logs.
//!
//! The caller resolves defaults (an unset `DATABASE_URL` becomes `sqlite://<data dir>/gaia.db`);
//! this module only classifies and redacts. Redaction hides the password both in the userinfo
//! part (`user:secret@host`) and in a `password=` query parameter.

use std::fmt;

use crate::error::StoreError;

/// The two supported database backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (`postgres://` or `postgresql://`).
    Postgres,
    /// An embedded SQLite file (`sqlite://` or `sqlite:`).
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        })
    }
}

/// A database URL with its backend; `Display` and [`DatabaseUrl::redacted`] never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// Classify `url` by its scheme.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] (password redacted) when the scheme is not one of
    /// `postgres://`, `postgresql://`, `sqlite:`, or nothing follows the scheme.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: redact(url),
            reason: reason.to_owned(),
        };
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err(invalid("the URL is empty"));
        }
        let lower = trimmed.to_ascii_lowercase();
        let (backend, rest) =
            if let Some(rest) = strip_any(&lower, &["postgres://", "postgresql://"]) {
                (Backend::Postgres, rest)
            } else if let Some(rest) = strip_any(&lower, &["sqlite://", "sqlite:"]) {
                (Backend::Sqlite, rest)
            } else {
                return Err(invalid(
                    "unsupported scheme (expected postgres://, postgresql:// or sqlite://)",
                ));
            };
        if rest.is_empty() {
            return Err(invalid("nothing follows the scheme (no host or file)"));
        }
        Ok(Self {
            raw: trimmed.to_owned(),
            backend,
        })
    }

    /// The backend this URL selects.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }

    /// The full URL, password included. Only for handing to the driver.
    pub(crate) fn expose(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("url", &self.redacted())
            .field("backend", &self.backend)
            .finish()
    }
}

fn strip_any<'a>(s: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    prefixes.iter().find_map(|p| s.strip_prefix(p))
}

/// Replace the password of any URL-like string with `***` (userinfo and `password=` parameter).
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let auth_start = scheme_end + 3;
        let auth_end = out[auth_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| auth_start + i);
        if let Some(at) = out[auth_start..auth_end].rfind('@') {
            let userinfo = &out[auth_start..auth_start + at];
            if let Some(colon) = userinfo.find(':') {
                let pw_start = auth_start + colon + 1;
                out.replace_range(pw_start..auth_start + at, "***");
            }
        }
    }
    redact_query_password(&out)
}

fn redact_query_password(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_owned();
    };
    let (head, query) = url.split_at(q + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{head}{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_password() {
        assert_eq!(
            redact("postgres://gaia:s3cr%40t@db.example:5432/gaia"),
            "postgres://gaia:***@db.example:5432/gaia"
        );
        assert_eq!(redact("postgres://gaia@db/x"), "postgres://gaia@db/x");
        assert_eq!(redact("sqlite:///var/gaia.db"), "sqlite:///var/gaia.db");
    }

    #[test]
    fn redacts_query_password() {
        assert_eq!(
            redact("postgresql://db/x?user=a&password=hunter2&sslmode=require"),
            "postgresql://db/x?user=a&password=***&sslmode=require"
        );
    }

    #[test]
    fn classifies_schemes() {
        let pg = DatabaseUrl::parse("postgresql://u:p@h/db").unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        assert_eq!(pg.to_string(), "postgresql://u:***@h/db");
        assert!(!format!("{pg:?}").contains(":p@"));
        let lite = DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap();
        assert_eq!(lite.backend(), Backend::Sqlite);
    }

    #[test]
    fn rejects_unknown_scheme_with_redacted_url() {
        let err = DatabaseUrl::parse("mysql://root:topsecret@h/db").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("mysql://root:***@h/db"), "{msg}");
        assert!(!msg.contains("topsecret"), "{msg}");
        assert!(msg.contains("unsupported scheme"), "{msg}");
        assert!(DatabaseUrl::parse("  ").is_err());
        assert!(DatabaseUrl::parse("postgres://").is_err());
    }
}
