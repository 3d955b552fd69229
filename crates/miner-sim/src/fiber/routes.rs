//! The HTTP side of a fiber miner (axum): the two handshake routes and the three weather POSTs
//! with the fiber checks in the Python miner's order and its answers (§2, §5, §6). A request
//! that passes is decrypted and handed to the plain-JSON handlers of [`crate::server`]; in
//! [`Transport::Fiber`] mode a request carrying none of the fiber headers goes to them
//! directly (plain JSON kept for local tests).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{FiberMiner, FiberRejection, Transport};
use crate::miner::protocol::{Envelope, InitiateFetchData, JobIdData};
use crate::miner::MinerCore;
use crate::server;

/// Header names of fiber (`F/constants.py`).
pub const FIBER_HEADERS: [&str; 5] = [
    "validator-hotkey",
    "signature",
    "miner-hotkey",
    "nonce",
    "symmetric-key-uuid",
];

/// The state of a fiber miner's routes.
#[derive(Debug)]
pub struct FiberApp {
    /// The transport-independent miner.
    pub core: Arc<MinerCore>,
    /// Its fiber state.
    pub fiber: Arc<FiberMiner>,
    /// Fiber with plain fallback, or fiber only.
    pub transport: Transport,
}

/// The checked fiber headers of one request.
struct FiberHeaders {
    validator: String,
    key_id: String,
}

fn detail(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "detail": text }))).into_response()
}

fn answer(why: FiberRejection, missing: &[&str]) -> Response {
    use FiberRejection as R;
    match why {
        R::MissingHeader | R::BadExchangeBody => {
            let errors: Vec<Value> = missing
                .iter()
                .map(|h| json!({"type": "missing", "loc": ["header", h], "msg": "Field required", "input": null}))
                .collect();
            let body = if errors.is_empty() {
                json!({"detail": [{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary or object to extract fields from"}]})
            } else {
                json!({ "detail": errors })
            };
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
        R::NotAllowed => detail(StatusCode::FORBIDDEN, "Hotkey not found in metagraph"),
        R::NonceReplayed | R::NonceMalformed | R::NonceExpired | R::NonceFuture => {
            detail(StatusCode::UNAUTHORIZED, "Oi, that nonce is not valid!")
        }
        R::BadSignature => detail(
            StatusCode::UNAUTHORIZED,
            "Oi, invalid signature, you're not who you said you were!",
        ),
        R::KeyUndecryptable => detail(
            StatusCode::UNAUTHORIZED,
            "Oi, I can't decrypt that symmetric key, sorry",
        ),
        R::NoSymmetricKey => detail(
            StatusCode::BAD_REQUEST,
            "No symmetric key found for that hotkey and uuid",
        ),
        R::SignatureFormat
        | R::BadValidatorHotkey
        | R::BadEncryptedKey
        | R::BadToken
        | R::BadPayload => detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A recorded refusal and the headers it names (422 only).
struct Refusal {
    why: FiberRejection,
    missing: Vec<&'static str>,
}

impl Refusal {
    fn response(&self) -> Response {
        answer(self.why, &self.missing)
    }
}

/// `blacklist_low_stake` then `verify_request` (nonce, then signature).
fn verify_request(app: &FiberApp, headers: &HeaderMap) -> Result<FiberHeaders, Refusal> {
    let missing: Vec<&'static str> = FIBER_HEADERS
        .iter()
        .copied()
        .filter(|h| header_str(headers, h).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Refusal {
            why: app.fiber.refuse(FiberRejection::MissingHeader),
            missing,
        });
    }
    let get = |h: &str| header_str(headers, h).unwrap_or_default().to_owned();
    let (validator, signature, miner, nonce, key_id) = (
        get("validator-hotkey"),
        get("signature"),
        get("miner-hotkey"),
        get("nonce"),
        get("symmetric-key-uuid"),
    );
    let refuse = |why| {
        Err(Refusal {
            why: app.fiber.refuse(why),
            missing: Vec::new(),
        })
    };
    if let Some(list) = &app.core.config().allowed_validators {
        if !list.contains(&validator) {
            return refuse(FiberRejection::NotAllowed);
        }
    }
    if let Err(why) = app.fiber.check_nonce(&nonce) {
        return refuse(why);
    }
    let Some(hex_sig) = signature.strip_prefix("0x") else {
        return refuse(FiberRejection::SignatureFormat);
    };
    let Ok(sig) = gaia_protocol::parse_signature_hex(hex_sig) else {
        return refuse(FiberRejection::SignatureFormat);
    };
    if gaia_protocol::ss58::decode(&validator).is_err() {
        return refuse(FiberRejection::BadValidatorHotkey);
    }
    // fiber does not check that `miner-hotkey` is this miner's own hotkey (§3.4).
    let message = format!("{nonce}:{miner}:{key_id}");
    if gaia_protocol::verify_signature(&validator, message.as_bytes(), &sig).is_err() {
        return refuse(FiberRejection::BadSignature);
    }
    Ok(FiberHeaders { validator, key_id })
}

async fn public_key(State(app): State<Arc<FiberApp>>) -> Response {
    let timestamp = app.fiber.now_ns() as f64 / 1e9;
    Json(json!({ "public_key": app.fiber.public_key_pem(), "timestamp": timestamp }))
        .into_response()
}

#[derive(Deserialize)]
struct ExchangeBody {
    encrypted_symmetric_key: String,
}

async fn exchange(State(app): State<Arc<FiberApp>>, headers: HeaderMap, body: Bytes) -> Response {
    let h = match verify_request(&app, &headers) {
        Ok(h) => h,
        Err(r) => return r.response(),
    };
    let json_type = header_str(&headers, header::CONTENT_TYPE.as_str()).is_some_and(|t| {
        t.trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    let parsed = json_type
        .then(|| serde_json::from_slice::<ExchangeBody>(&body).ok())
        .flatten();
    let Some(parsed) = parsed else {
        return answer(app.fiber.refuse(FiberRejection::BadExchangeBody), &[]);
    };
    let Ok(ciphertext) = STANDARD.decode(parsed.encrypted_symmetric_key.trim()) else {
        return answer(app.fiber.refuse(FiberRejection::BadEncryptedKey), &[]);
    };
    match app.fiber.exchange(&h.validator, &h.key_id, &ciphertext) {
        Ok(()) => Json(json!({ "status": "Symmetric key exchanged successfully" })).into_response(),
        Err(why) => answer(app.fiber.refuse(why), &[]),
    }
}

#[derive(Clone, Copy)]
enum Endpoint {
    Initiate,
    Poll,
    Kerchunk,
}

async fn plain(
    core: Arc<MinerCore>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match endpoint {
        Endpoint::Initiate => server::initiate(State(core), headers, body).await,
        Endpoint::Poll => server::poll(State(core), headers, body).await,
        Endpoint::Kerchunk => server::kerchunk(State(core), headers, body).await,
    }
}

fn payload_ok(endpoint: Endpoint, plaintext: &[u8]) -> bool {
    match endpoint {
        Endpoint::Initiate => {
            serde_json::from_slice::<Envelope<InitiateFetchData>>(plaintext).is_ok()
        }
        Endpoint::Poll | Endpoint::Kerchunk => {
            serde_json::from_slice::<Envelope<JobIdData>>(plaintext).is_ok()
        }
    }
}

async fn weather(
    app: Arc<FiberApp>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let speaks_fiber = FIBER_HEADERS
        .iter()
        .any(|h| *h != "validator-hotkey" && headers.contains_key(*h));
    if !speaks_fiber && app.transport == Transport::Fiber {
        return plain(Arc::clone(&app.core), endpoint, headers, body).await;
    }
    let h = match verify_request(&app, &headers) {
        Ok(h) => h,
        Err(r) => return r.response(),
    };
    let plaintext = match app.fiber.decrypt(&h.validator, &h.key_id, &body) {
        Ok(p) => p,
        Err(why) => return answer(app.fiber.refuse(why), &[]),
    };
    if !payload_ok(endpoint, &plaintext) {
        return answer(app.fiber.refuse(FiberRejection::BadPayload), &[]);
    }
    app.fiber.count_accepted();
    plain(
        Arc::clone(&app.core),
        endpoint,
        headers,
        Bytes::from(plaintext),
    )
    .await
}

async fn initiate(State(app): State<Arc<FiberApp>>, headers: HeaderMap, body: Bytes) -> Response {
    weather(app, Endpoint::Initiate, headers, body).await
}

async fn poll(State(app): State<Arc<FiberApp>>, headers: HeaderMap, body: Bytes) -> Response {
    weather(app, Endpoint::Poll, headers, body).await
}

async fn kerchunk(State(app): State<Arc<FiberApp>>, headers: HeaderMap, body: Bytes) -> Response {
    weather(app, Endpoint::Kerchunk, headers, body).await
}

/// The routes of a fiber miner: handshake, the weather POSTs and `/forecasts/` (unchanged).
pub fn router(app: Arc<FiberApp>) -> Router {
    let forecasts = server::forecasts_router(Arc::clone(&app.core));
    Router::new()
        .route("/public-encryption-key", get(public_key))
        .route("/exchange-symmetric-key", post(exchange))
        .route("/weather-initiate-fetch", post(initiate))
        .route("/weather-poll-job-status", post(poll))
        .route("/weather-kerchunk-request", post(kerchunk))
        .with_state(app)
        .merge(forecasts)
}
