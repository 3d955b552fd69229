//! [`FiberTransport`]: the [`MinerTransport`] of real Gaia miners (miner-protocol.md §1–§5).
//!
//! Per call: look up the miner's hotkey, take the cached session key of (ip, port, hotkey) or
//! make one (GET `/public-encryption-key`, POST `/exchange-symmetric-key`), then POST the
//! Fernet token of `{"data": ..., "nonce": ...}` with freshly signed headers and parse the
//! plain-JSON answer. At most **one** retry per call: a fresh handshake when a *cached* key
//! meets a "No symmetric key found" answer or a connection failure (the miner restarted or
//! dropped the key), or a fresh nonce when the miner refused the nonce. Every HTTP step has its
//! own timeout, so a call ends within `2 × (2 × handshake timeout + POST timeout)`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::wire::{
    encrypt_body, encrypt_symmetric_key, exchange_body, new_key_id, nonce_at, parse_public_key,
    request_plaintext, system_unix_ns, HotkeySigner, SignedHeaders, SymmetricKey, WireError,
    EXCHANGE_PATH, PUBLIC_KEY_PATH,
};
use crate::miners::client::{MinerError, MinerTransport, TransportFuture, MAX_ANSWER_BYTES};
use crate::miners::url_policy::MinerAddress;

/// fiber's default timeout of the encrypted POST (`make_non_streamed_post(..., timeout=10)`).
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the validator reuses a session key (Gaia: stale at 120 min; miners keep 5 h).
pub const KEY_TTL: Duration = Duration::from_secs(2 * 60 * 60);
/// Longest piece of a miner's error text kept in an error.
const DETAIL_CHARS: usize = 200;

/// Nanoseconds since the Unix epoch, for the nonces.
pub type Clock = Arc<dyn Fn() -> u128 + Send + Sync>;

/// Where nonces come from.
#[derive(Clone)]
pub enum NonceSource {
    /// `{clock ns}_{10 random alphanumerics}`, fresh for every request (production).
    Fresh,
    /// Always this string. Only for tests: reproducing the fixed request of §8.7 and making a
    /// miner see a replay.
    Fixed(String),
}

/// Settings of the fiber transport.
#[derive(Clone)]
pub struct FiberOptions {
    /// Timeout of the encrypted POST (default [`POST_TIMEOUT`]).
    pub post_timeout: Duration,
    /// Upper bound of each handshake call's timeout; the endpoint's own timeout (30/15/45 s)
    /// applies when it is smaller. `None`: the endpoint timeout as Gaia does.
    pub handshake_timeout_cap: Option<Duration>,
    /// Session key reuse limit (default [`KEY_TTL`]).
    pub key_ttl: Duration,
    /// Allow `http://` to non-loopback addresses (`http` to loopback is always allowed for the
    /// simulated miners; real miners are reached over HTTPS).
    pub allow_plain_http: bool,
    /// The clock of the nonces (default: the system clock).
    pub clock: Clock,
    /// The nonces (default: [`NonceSource::Fresh`]).
    pub nonces: NonceSource,
}

impl Default for FiberOptions {
    fn default() -> Self {
        Self {
            post_timeout: POST_TIMEOUT,
            handshake_timeout_cap: None,
            key_ttl: KEY_TTL,
            allow_plain_http: false,
            clock: Arc::new(system_unix_ns),
            nonces: NonceSource::Fresh,
        }
    }
}

impl std::fmt::Debug for FiberOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FiberOptions")
            .field("post_timeout", &self.post_timeout)
            .field("handshake_timeout_cap", &self.handshake_timeout_cap)
            .field("key_ttl", &self.key_ttl)
            .field("allow_plain_http", &self.allow_plain_http)
            .finish_non_exhaustive()
    }
}

/// Why a fiber call failed. Everything a miner says is reported, never trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FiberError {
    /// No hotkey is known for this address (register it in the [`MinerDirectory`]).
    #[error("fiber: no hotkey known for miner {0}")]
    UnknownMiner(String),
    /// `http://` to a non-loopback address without [`FiberOptions::allow_plain_http`].
    #[error("fiber: plain http to {0} refused (real miners are reached over https)")]
    PlainHttpRefused(String),
    /// A step got no (complete) answer in time.
    #[error("fiber: {endpoint}: no answer within {timeout:?}")]
    Timeout {
        /// The path of the step.
        endpoint: String,
        /// Its limit.
        timeout: Duration,
    },
    /// Connection refused/reset, TLS failure, ...
    #[error("fiber: {endpoint}: connection failed: {reason}")]
    Connection {
        /// The path of the step.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// The miner answered success with something that is not the expected JSON.
    #[error("fiber: {endpoint}: garbage answer: {reason}")]
    GarbageAnswer {
        /// The path of the step.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// The answer is larger than [`MAX_ANSWER_BYTES`].
    #[error("fiber: {endpoint}: answer larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge {
        /// The path of the step.
        endpoint: String,
    },
    /// The miner's RSA key is unusable.
    #[error("fiber: {0}")]
    Wire(#[from] WireError),
    /// The miner does not know the key id ("No symmetric key found for that hotkey and uuid"):
    /// a wrong key id, or the miner restarted or expired the key.
    #[error("fiber: {endpoint}: miner has no symmetric key for this key id (HTTP {status})")]
    NoSymmetricKey {
        /// The path of the step.
        endpoint: String,
        /// 400 from fiber (400/401/403 are all read this way, as Gaia does).
        status: u16,
    },
    /// 401 "that nonce is not valid": expired, from the future (clock off by > 120 s), or a
    /// replay the miner refused. The miner's answer does not say which.
    #[error("fiber: {endpoint}: nonce refused by the miner (expired, future or replayed)")]
    NonceRefused {
        /// The path of the step.
        endpoint: String,
    },
    /// 401 "invalid signature".
    #[error("fiber: {endpoint}: signature refused by the miner")]
    SignatureRefused {
        /// The path of the step.
        endpoint: String,
    },
    /// 401 on the key exchange: the miner could not RSA-decrypt the key.
    #[error("fiber: key exchange refused: {detail}")]
    KeyExchangeRefused {
        /// The miner's text.
        detail: String,
    },
    /// 403: validator not in the miner's metagraph, stake too low, or blacklisted.
    #[error("fiber: {endpoint}: forbidden: {detail}")]
    Forbidden {
        /// The path of the step.
        endpoint: String,
        /// The miner's text.
        detail: String,
    },
    /// 429 from the miner's rate limiter.
    #[error("fiber: {endpoint}: rate limited")]
    RateLimited {
        /// The path of the step.
        endpoint: String,
    },
    /// Any other non-success status.
    #[error("fiber: {endpoint}: HTTP {status}: {detail}")]
    Status {
        /// The path of the step.
        endpoint: String,
        /// The status.
        status: u16,
        /// The miner's text (truncated).
        detail: String,
    },
}

impl FiberError {
    /// The miner likely lost our key: worth one fresh handshake when the key was cached.
    fn lost_key(&self) -> bool {
        matches!(
            self,
            FiberError::NoSymmetricKey { .. } | FiberError::Connection { .. }
        )
    }
}

impl From<FiberError> for MinerError {
    fn from(e: FiberError) -> Self {
        match e {
            FiberError::Timeout { endpoint, timeout } => MinerError::Timeout { endpoint, timeout },
            FiberError::TooLarge { endpoint } => MinerError::TooLarge { endpoint },
            FiberError::GarbageAnswer { ref endpoint, .. } => MinerError::Malformed {
                endpoint: endpoint.clone(),
                reason: e.to_string(),
            },
            FiberError::Status {
                endpoint,
                status,
                detail,
            } => MinerError::Status {
                endpoint,
                status,
                detail,
            },
            FiberError::Connection { ref endpoint, .. }
            | FiberError::NoSymmetricKey { ref endpoint, .. }
            | FiberError::NonceRefused { ref endpoint }
            | FiberError::SignatureRefused { ref endpoint }
            | FiberError::Forbidden { ref endpoint, .. }
            | FiberError::RateLimited { ref endpoint } => MinerError::Transport {
                endpoint: endpoint.clone(),
                reason: e.to_string(),
            },
            FiberError::KeyExchangeRefused { .. } => MinerError::Transport {
                endpoint: EXCHANGE_PATH.into(),
                reason: e.to_string(),
            },
            FiberError::Wire(_) => MinerError::Transport {
                endpoint: PUBLIC_KEY_PATH.into(),
                reason: e.to_string(),
            },
            FiberError::UnknownMiner(_) | FiberError::PlainHttpRefused(_) => {
                MinerError::Transport {
                    endpoint: String::new(),
                    reason: e.to_string(),
                }
            }
        }
    }
}

/// The hotkey registered at each miner address (from the metagraph). The transport signs for
/// this hotkey and keys its session cache by (ip, port, hotkey), so a changed hotkey or
/// address never reuses a key.
#[derive(Debug, Default)]
pub struct MinerDirectory {
    hotkeys: RwLock<HashMap<(IpAddr, u16), String>>,
}

impl MinerDirectory {
    /// Record that `miner` is `hotkey`.
    pub fn set(&self, miner: &MinerAddress, hotkey: &str) {
        self.hotkeys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((miner.ip, miner.port), hotkey.to_owned());
    }

    /// Forget `miner`.
    pub fn remove(&self, miner: &MinerAddress) {
        self.hotkeys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(miner.ip, miner.port));
    }

    /// The hotkey of `miner`, if known.
    pub fn get(&self, miner: &MinerAddress) -> Option<String> {
        self.hotkeys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(miner.ip, miner.port))
            .cloned()
    }
}

/// One handshake's result.
struct Session {
    key_id: String,
    fernet: fernet::Fernet,
    made: Instant,
}

/// The session of one miner, and the last handshake failure: callers that queued behind a
/// failing handshake get its error at once instead of each waiting out their own.
#[derive(Default)]
struct SlotState {
    session: Option<Arc<Session>>,
    failed: Option<(Instant, FiberError)>,
}

type SessionSlot = Arc<tokio::sync::Mutex<SlotState>>;
type SessionId = (IpAddr, u16, String);

/// What the transport did, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FiberCounters {
    /// Completed handshakes.
    pub handshakes: u64,
    /// Encrypted POSTs sent.
    pub posts: u64,
    /// Retries (fresh handshake or fresh nonce).
    pub retries: u64,
}

/// Fiber-encrypted HTTPS to real Gaia miners (miner-protocol.md), behind [`MinerTransport`].
pub struct FiberTransport {
    http: reqwest::Client,
    signer: Arc<dyn HotkeySigner>,
    directory: Arc<MinerDirectory>,
    options: FiberOptions,
    sessions: Mutex<HashMap<SessionId, SessionSlot>>,
    counters: Mutex<FiberCounters>,
}

impl std::fmt::Debug for FiberTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FiberTransport")
            .field("validator_hotkey", &self.signer.ss58())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct PublicKeyAnswer {
    public_key: String,
}

/// A miner's error text: the `detail` or `error` field of a JSON body, else the body, truncated.
pub fn detail_of(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(v) => match v.get("detail").or_else(|| v.get("error")) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => v.to_string(),
        },
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    text.chars().take(DETAIL_CHARS).collect()
}

/// Turn a miner's answer into JSON or the named error (§5).
pub fn classify_answer(endpoint: &str, status: u16, body: &[u8]) -> Result<Value, FiberError> {
    let endpoint = endpoint.to_owned();
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|e| FiberError::GarbageAnswer {
            endpoint,
            reason: format!("not JSON ({e})"),
        });
    }
    let detail = detail_of(body);
    let lower = detail.to_ascii_lowercase();
    Err(match status {
        400 | 401 | 403 if lower.contains("no symmetric key found") => {
            FiberError::NoSymmetricKey { endpoint, status }
        }
        401 if lower.contains("nonce") => FiberError::NonceRefused { endpoint },
        401 if lower.contains("signature") => FiberError::SignatureRefused { endpoint },
        401 if lower.contains("decrypt") && endpoint == EXCHANGE_PATH => {
            FiberError::KeyExchangeRefused { detail }
        }
        403 => FiberError::Forbidden { endpoint, detail },
        429 => FiberError::RateLimited { endpoint },
        _ => FiberError::Status {
            endpoint,
            status,
            detail,
        },
    })
}

impl FiberTransport {
    /// A transport signing as `signer`, resolving miner hotkeys in `directory`.
    pub fn new(
        signer: Arc<dyn HotkeySigner>,
        directory: Arc<MinerDirectory>,
        options: FiberOptions,
    ) -> Result<Self, FiberError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            // Miners present self-signed certificates for their IP (§1).
            .danger_accept_invalid_certs(true)
            .http1_only()
            // A fresh connection per request: the Python miner may close the connection after
            // a 500, and nginx in front of it may drop idle ones (§5).
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| FiberError::Connection {
                endpoint: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            signer,
            directory,
            options,
            sessions: Mutex::new(HashMap::new()),
            counters: Mutex::new(FiberCounters::default()),
        })
    }

    /// The miner hotkey directory.
    pub fn directory(&self) -> &Arc<MinerDirectory> {
        &self.directory
    }

    /// The validator hotkey this transport signs as.
    pub fn validator_hotkey(&self) -> String {
        self.signer.ss58()
    }

    /// Handshakes, POSTs and retries so far.
    pub fn counters(&self) -> FiberCounters {
        *self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, f: impl FnOnce(&mut FiberCounters)) {
        f(&mut self.counters.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Drop every cached session key.
    pub fn forget_keys(&self) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn nonce(&self) -> String {
        match &self.options.nonces {
            NonceSource::Fresh => nonce_at((self.options.clock)()),
            NonceSource::Fixed(n) => n.clone(),
        }
    }

    fn slot(&self, id: &SessionId) -> SessionSlot {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(id.clone()).or_default())
    }

    /// Send one request and read a bounded answer within `timeout`.
    async fn exchange(
        &self,
        endpoint: &str,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), FiberError> {
        let call = async {
            let conn = |e: reqwest::Error| FiberError::Connection {
                endpoint: endpoint.into(),
                reason: e.to_string(),
            };
            let mut response = request.send().await.map_err(conn)?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(conn)? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(FiberError::TooLarge {
                        endpoint: endpoint.into(),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, body))
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| FiberError::Timeout {
                endpoint: endpoint.into(),
                timeout,
            })?
    }

    /// The handshake alone (public key, then key exchange) with `miner`, as `preflight` asks a
    /// sample of miners: `Ok` when the miner accepted our signed symmetric key. The session is
    /// not kept.
    pub async fn check_handshake(
        &self,
        miner: &MinerAddress,
        miner_hotkey: &str,
        timeout: Duration,
    ) -> Result<(), FiberError> {
        self.handshake(&miner.base_url(), miner_hotkey, timeout)
            .await
            .map(|_| ())
    }

    /// GET the public key, exchange a fresh symmetric key (§2).
    async fn handshake(
        &self,
        base: &str,
        miner_hotkey: &str,
        timeout: Duration,
    ) -> Result<Session, FiberError> {
        let (status, body) = self
            .exchange(
                PUBLIC_KEY_PATH,
                self.http.get(format!("{base}{PUBLIC_KEY_PATH}")),
                timeout,
            )
            .await?;
        let answer = classify_answer(PUBLIC_KEY_PATH, status, &body)?;
        let answer: PublicKeyAnswer =
            serde_json::from_value(answer).map_err(|e| FiberError::GarbageAnswer {
                endpoint: PUBLIC_KEY_PATH.into(),
                reason: e.to_string(),
            })?;
        let public = parse_public_key(&answer.public_key)?;
        let key = SymmetricKey::generate();
        let key_id = new_key_id();
        let encrypted = encrypt_symmetric_key(&public, &key)?;
        let headers = SignedHeaders::sign(&*self.signer, miner_hotkey, &key_id, &self.nonce());
        let mut request = self
            .http
            .post(format!("{base}{EXCHANGE_PATH}"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(exchange_body(&encrypted).to_string());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let (status, body) = self.exchange(EXCHANGE_PATH, request, timeout).await?;
        classify_answer(EXCHANGE_PATH, status, &body)?;
        self.count(|c| c.handshakes += 1);
        Ok(Session {
            key_id,
            fernet: key.fernet(),
            made: Instant::now(),
        })
    }

    /// The encrypted POST of `data` with a fresh nonce and signature (§3, §4).
    async fn post_encrypted(
        &self,
        base: &str,
        miner_hotkey: &str,
        session: &Session,
        endpoint: &str,
        data: &Value,
    ) -> Result<Value, FiberError> {
        let plaintext = request_plaintext(data.clone(), &self.nonce());
        let token = encrypt_body(&session.fernet, &plaintext);
        let headers =
            SignedHeaders::sign(&*self.signer, miner_hotkey, &session.key_id, &self.nonce());
        let mut request = self
            .http
            .post(format!("{base}{endpoint}"))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(token);
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        self.count(|c| c.posts += 1);
        let (status, body) = self
            .exchange(endpoint, request, self.options.post_timeout)
            .await?;
        classify_answer(endpoint, status, &body)
    }

    /// POST `data` to `endpoint` of `miner` over fiber; `timeout` is the endpoint's handshake
    /// timeout (§1). The named-error form of [`MinerTransport::post`].
    pub async fn request(
        &self,
        miner: &MinerAddress,
        endpoint: &str,
        data: Value,
        timeout: Duration,
    ) -> Result<Value, FiberError> {
        let base = miner.base_url();
        let plain_ok = miner.scheme == "https"
            || (miner.scheme == "http"
                && (miner.ip.is_loopback() || self.options.allow_plain_http));
        if !plain_ok {
            return Err(FiberError::PlainHttpRefused(base));
        }
        // The hotkey the caller names for this request wins (initiate-fetch carries it), else
        // the directory's.
        let hotkey = data
            .get("expected_miner_hotkey")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| self.directory.get(miner))
            .ok_or_else(|| FiberError::UnknownMiner(base.clone()))?;
        let handshake_timeout = self
            .options
            .handshake_timeout_cap
            .map_or(timeout, |cap| cap.min(timeout));
        let slot = self.slot(&(miner.ip, miner.port, hotkey.clone()));
        let mut retried = false;
        loop {
            let (session, cached) = {
                let queued = Instant::now();
                let mut held = slot.lock().await;
                match held.session.as_ref() {
                    Some(s) if s.made.elapsed() < self.options.key_ttl => (Arc::clone(s), true),
                    _ => {
                        held.session = None;
                        if let Some((at, e)) = &held.failed {
                            if *at >= queued {
                                return Err(e.clone());
                            }
                        }
                        match self.handshake(&base, &hotkey, handshake_timeout).await {
                            Ok(s) => {
                                let s = Arc::new(s);
                                held.session = Some(Arc::clone(&s));
                                held.failed = None;
                                (s, false)
                            }
                            Err(e) => {
                                held.failed = Some((Instant::now(), e.clone()));
                                return Err(e);
                            }
                        }
                    }
                }
            };
            match self
                .post_encrypted(&base, &hotkey, &session, endpoint, &data)
                .await
            {
                Ok(v) => return Ok(v),
                Err(e) if !retried && cached && e.lost_key() => {
                    tracing::info!(miner = %base, error = %e, "fiber: cached key refused, one fresh handshake");
                    let mut held = slot.lock().await;
                    if held
                        .session
                        .as_ref()
                        .is_some_and(|s| s.key_id == session.key_id)
                    {
                        held.session = None;
                    }
                }
                Err(e @ FiberError::NonceRefused { .. }) if !retried => {
                    tracing::info!(miner = %base, error = %e, "fiber: nonce refused, one retry");
                }
                Err(e) => return Err(e),
            }
            retried = true;
            self.count(|c| c.retries += 1);
        }
    }
}

impl MinerTransport for FiberTransport {
    fn post<'a>(
        &'a self,
        miner: &'a MinerAddress,
        endpoint: &'a str,
        data: Value,
        timeout: Duration,
    ) -> TransportFuture<'a> {
        Box::pin(async move {
            self.request(miner, endpoint, data, timeout)
                .await
                .map_err(MinerError::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_status_and_text() {
        let ok = classify_answer("/p", 200, br#"{"status": "completed"}"#).unwrap();
        assert_eq!(ok["status"], "completed");
        assert!(matches!(
            classify_answer("/p", 200, b"<html>"),
            Err(FiberError::GarbageAnswer { .. })
        ));
        assert!(matches!(
            classify_answer(
                "/p",
                400,
                br#"{"detail":"No symmetric key found for that hotkey and uuid"}"#
            ),
            Err(FiberError::NoSymmetricKey { status: 400, .. })
        ));
        assert!(matches!(
            classify_answer("/p", 401, br#"{"detail":"Oi, that nonce is not valid!"}"#),
            Err(FiberError::NonceRefused { .. })
        ));
        assert!(matches!(
            classify_answer(
                "/p",
                401,
                br#"{"detail":"Oi, invalid signature, you're not who you said you were!"}"#
            ),
            Err(FiberError::SignatureRefused { .. })
        ));
        assert!(matches!(
            classify_answer(
                EXCHANGE_PATH,
                401,
                br#"{"detail":"Oi, I can't decrypt that symmetric key, sorry"}"#
            ),
            Err(FiberError::KeyExchangeRefused { .. })
        ));
        assert!(matches!(
            classify_answer("/p", 403, br#"{"detail":"Hotkey not found in metagraph"}"#),
            Err(FiberError::Forbidden { .. })
        ));
        assert!(matches!(
            classify_answer("/p", 429, br#"{"detail":"Rate limit exceeded"}"#),
            Err(FiberError::RateLimited { .. })
        ));
        let long = vec![b'x'; 10_000];
        match classify_answer("/p", 500, &long) {
            Err(FiberError::Status {
                status: 500,
                detail,
                ..
            }) => assert_eq!(detail.len(), 200),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_keep_their_name_through_miner_error() {
        let e: MinerError = FiberError::NonceRefused {
            endpoint: "/x".into(),
        }
        .into();
        assert!(e.to_string().contains("nonce refused"), "{e}");
        let t: MinerError = FiberError::Timeout {
            endpoint: "/x".into(),
            timeout: Duration::from_secs(1),
        }
        .into();
        assert!(matches!(t, MinerError::Timeout { .. }));
    }
}
