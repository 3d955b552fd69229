//! What follows a submission: how long inclusion is watched for ([`Confirmation`]) and naming
//! the pool's refusals. `author_submitExtrinsic` answers a transaction-extension refusal with
//! `Invalid Transaction: Custom error: N`; [`name_pool_error`] appends subtensor's name for the
//! codes chain.md §3.3 lists.

use std::time::Duration;

use super::rpc::RpcError;
use super::ChainError;

/// How a submission is followed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmation {
    /// Pause between two `LastUpdate` reads.
    pub poll: Duration,
    /// Give up after this long.
    pub max_wait: Duration,
}

impl Confirmation {
    /// Poll once a block for the mortal era's 8 blocks plus two.
    pub fn for_block_time(block_time_s: f64) -> Confirmation {
        let block = Duration::from_secs_f64(block_time_s.clamp(0.001, 3600.0));
        Confirmation {
            poll: block,
            max_wait: block * 10,
        }
    }
}

/// Subtensor's transaction-extension refusals that chain.md §3.3 names
/// (`common/src/transaction_error.rs`), as they appear in a pool error: `Custom error: N`.
const CUSTOM_POOL_ERRORS: [(u32, &str); 3] = [
    (6, "RateLimitExceeded"),
    (10, "HotKeyNotRegisteredInNetwork"),
    (19, "UidNotFound"),
];

/// Append the subtensor name to a pool refusal carrying `Custom error: N`.
pub fn name_pool_error(e: RpcError) -> ChainError {
    let RpcError::Remote {
        method,
        code,
        message,
    } = e
    else {
        return e.into();
    };
    let number = message
        .split("Custom error: ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse::<u32>().ok());
    let name = number.and_then(|n| CUSTOM_POOL_ERRORS.iter().find(|(c, _)| *c == n));
    let message = match name {
        Some((_, name)) => format!("{message} (subtensor: {name})"),
        None => message,
    };
    RpcError::Remote {
        method,
        code,
        message,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_errors_get_subtensor_names() {
        let remote = |message: &str| RpcError::Remote {
            method: "author_submitExtrinsic".into(),
            code: 1010,
            message: message.into(),
        };
        let named = name_pool_error(remote("Invalid Transaction: Custom error: 6")).to_string();
        assert!(
            named.ends_with("Custom error: 6 (subtensor: RateLimitExceeded)"),
            "{named}"
        );
        let other = name_pool_error(remote("Invalid Transaction: Custom error: 99")).to_string();
        assert!(other.ends_with("Custom error: 99"), "{other}");
        let plain = name_pool_error(remote("Transaction has a bad signature")).to_string();
        assert!(plain.ends_with("bad signature"), "{plain}");
        assert!(matches!(
            name_pool_error(RpcError::Http {
                method: "m".into(),
                status: 404
            }),
            ChainError::Rpc(RpcError::Http { status: 404, .. })
        ));
    }
}
