//! Access tokens for `/forecasts/` (spec §1.3 "Access token"): HS256 JWTs signed with the miner's
//! secret, claims `job_id`, `file_path` (the Zarr directory name) and `exp`.

use chrono::{DateTime, Utc};
use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};

/// Claims of a forecast access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The miner's job id.
    pub job_id: String,
    /// The Zarr directory name the token grants (`<name>.zarr`).
    pub file_path: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token's `exp` has passed.
    #[error("token expired")]
    Expired,
    /// Not a token of this miner (bad signature, algorithm, format or claims).
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Signing failed.
    #[error("cannot sign token: {0}")]
    Sign(String),
}

/// Sign a token for `job_id` / `file_path` valid until `expires`.
pub fn issue(
    secret: &[u8],
    job_id: &str,
    file_path: &str,
    expires: DateTime<Utc>,
) -> Result<String, TokenError> {
    let claims = Claims {
        job_id: job_id.to_owned(),
        file_path: file_path.to_owned(),
        exp: expires.timestamp(),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| TokenError::Sign(e.to_string()))
}

/// Check a token's signature (HS256 only) and expiry (no leeway) and return its claims.
pub fn validate(secret: &[u8], token: &str) -> Result<Claims, TokenError> {
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = 0;
    v.set_required_spec_claims(&["exp"]);
    decode::<Claims>(token, &DecodingKey::from_secret(secret), &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid(e.to_string()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn round_trip_expiry_and_forgery() {
        let later = Utc::now() + TimeDelta::minutes(5);
        let t = issue(b"k", "job", "a.zarr", later).unwrap();
        let c = validate(b"k", &t).unwrap();
        assert_eq!(
            (c.job_id.as_str(), c.file_path.as_str(), c.exp),
            ("job", "a.zarr", later.timestamp())
        );
        assert!(matches!(
            validate(b"other", &t),
            Err(TokenError::Invalid(_))
        ));
        let old = issue(b"k", "job", "a.zarr", Utc::now() - TimeDelta::seconds(5)).unwrap();
        assert_eq!(validate(b"k", &old), Err(TokenError::Expired));
        assert!(matches!(
            validate(b"k", "not.a.jwt"),
            Err(TokenError::Invalid(_))
        ));
        let mut edited = t.clone();
        edited.insert(t.len() / 2, 'x');
        assert!(validate(b"k", &edited).is_err());
    }
}
