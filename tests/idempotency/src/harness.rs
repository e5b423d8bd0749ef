//! The server under test, the HTTP client every check uses, and shared assertions.
//!
//! [`Server`] builds the attempt's router against the grader's Redis, with this check's key
//! prefix and a fresh [`TestGateway`], and serves it on a loopback port. [`Client`] is one HTTP
//! client (one connection pool) that posts payments as one API client; [`Reply`] is what came
//! back.

use std::net::SocketAddr;
use std::time::Duration;

use grade_kit::{Failure, ensure, fail};
use idempotency::Config;
use serde_json::Value;

pub use crate::gateway::{Gate, Step, TestGateway};

/// How long one request may take before the check calls it a hang (scaled under real time).
pub const REQUEST_LIMIT: Duration = Duration::from_secs(5);

/// A valid payment body, different for each `n`.
pub fn body(n: u32) -> String {
    format!(
        r#"{{"amount":{},"currency":"EUR","description":"order {n}"}}"#,
        1000 + n
    )
}

/// The attempt's service, running on a loopback port, and its gateway.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The router itself, for calling it directly (without HTTP).
    pub router: axum::Router,
    /// The side effect, for scripting and counting.
    pub gateway: TestGateway,
}

impl Server {
    /// Builds the attempt's router with this TTL and lease and serves it.
    pub async fn start(ttl: Duration, lease: Duration) -> Result<Self, Failure> {
        let redis_url = grade_kit::services::redis_url();
        Self::start_at(&redis_url, &grade_kit::services::key_prefix(), ttl, lease).await
    }

    /// [`start`](Self::start) with another Redis URL (a proxy) and key prefix (one per
    /// scenario of a model-based check, so scenarios never see each other's keys).
    pub async fn start_at(
        redis_url: &str,
        key_prefix: &str,
        ttl: Duration,
        lease: Duration,
    ) -> Result<Self, Failure> {
        let gateway = TestGateway::new();
        let config = Config {
            redis_url: redis_url.to_owned(),
            key_prefix: key_prefix.to_owned(),
            ttl,
            lease,
        };
        let built = grade_kit::time::within(
            REQUEST_LIMIT,
            "idempotency::router()",
            idempotency::router(config, gateway.clone()),
        )
        .await?;
        let router = match built {
            Ok(router) => router,
            Err(error) => fail!(
                hint = "router() should connect to config.redis_url and return the Router; is \
                        that Redis server running?",
                "router() returned an error with redis_url = {redis_url}: {error}"
            ),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| Failure::new(format!("cannot bind a loopback port: {error}")))?;
        let addr = listener
            .local_addr()
            .map_err(|error| Failure::new(format!("cannot read the bound port: {error}")))?;
        let serve = axum::serve(listener, router.clone());
        tokio::spawn(async move { serve.await });
        Ok(Self {
            addr,
            router,
            gateway,
        })
    }

    /// A new HTTP client (its own connections) posting as API client `client_id`.
    pub fn client(&self, client_id: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            url: format!("http://{}/payments", self.addr),
            client_id: client_id.to_owned(),
        }
    }
}

/// One API client: `Authorization: Bearer <client_id>`, its own connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    client_id: String,
}

impl Client {
    /// `POST /payments` with `key` as the `Idempotency-Key` (raw bytes; `None`: no header).
    pub async fn post(&self, key: Option<&[u8]>, body: &str) -> Result<Reply, Failure> {
        let mut request = self
            .http
            .post(&self.url)
            .header("authorization", format!("Bearer {}", self.client_id))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(key) = key {
            let value = reqwest::header::HeaderValue::from_bytes(key)
                .map_err(|error| Failure::new(format!("suite bug: bad header value: {error}")))?;
            request = request.header("idempotency-key", value);
        }
        let what = format!("POST /payments (Idempotency-Key: {})", show_key(key));
        let response = grade_kit::time::within(REQUEST_LIMIT, &what, request.send())
            .await?
            .map_err(|error| Failure::new(format!("{what} failed: {error}")))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        let replayed = header("idempotent-replayed");
        let body = grade_kit::time::within(REQUEST_LIMIT, &what, response.text())
            .await?
            .map_err(|error| Failure::new(format!("{what}: reading the body failed: {error}")))?;
        Ok(Reply {
            status,
            content_type,
            replayed,
            body,
        })
    }

    /// [`post`](Self::post) with a text key.
    pub async fn send(&self, key: &str, body: &str) -> Result<Reply, Failure> {
        self.post(Some(key.as_bytes()), body).await
    }

    /// Opens a connection now (any response will do), so a later burst does not wait for
    /// TCP handshakes.
    pub async fn warm_up(&self) -> Result<(), Failure> {
        let url = self.url.replace("/payments", "/warm-up");
        grade_kit::time::within(REQUEST_LIMIT, "GET /warm-up", self.http.get(url).send())
            .await?
            .map(|_| ())
            .map_err(|error| Failure::new(format!("GET /warm-up failed: {error}")))
    }
}

/// A key for messages: text if it is, else its bytes; long keys shortened.
pub fn show_key(key: Option<&[u8]>) -> String {
    match key {
        None => "(none)".to_owned(),
        Some(key) => {
            let text = String::from_utf8_lossy(key);
            if text.len() > 40 {
                format!("{:?}… ({} bytes)", &text[..32], key.len())
            } else {
                format!("{text:?}")
            }
        }
    }
}

/// A response: status, the headers the checks look at, and the body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub replayed: Option<String>,
    pub body: String,
}

impl Reply {
    /// Whether it carries `Idempotent-Replayed: true`.
    pub fn is_replay(&self) -> bool {
        self.replayed
            .as_deref()
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    }

    /// The media type of `Content-Type`, lowercased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.content_type
            .as_deref()
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase())
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// A one-line summary for messages.
    pub fn summary(&self) -> String {
        let mut body: String = self.body.chars().take(200).collect();
        if body.len() < self.body.len() {
            body.push('…');
        }
        format!("{} {body}", self.status)
    }

    /// Fails unless the status is `expected`.
    pub fn expect_status(&self, expected: u16, what: &str, hint: &str) -> Result<(), Failure> {
        if self.status == expected {
            return Ok(());
        }
        Err(Failure::new(format!("{what}: expected status {expected}"))
            .with_expected(expected.to_string())
            .with_actual(self.summary())
            .with_hint(hint))
    }
}

/// Fails unless `replay` has the status, media type and body of `original` (bodies compared
/// as JSON when both are JSON, so key order and spacing do not matter; byte for byte
/// otherwise).
pub fn ensure_same_response(replay: &Reply, original: &Reply, what: &str) -> Result<(), Failure> {
    let same_body = match (replay.json(), original.json()) {
        (Some(a), Some(b)) => a == b,
        _ => replay.body == original.body,
    };
    ensure!(
        replay.status == original.status && same_body,
        hint = "store the first response's status and body under the key, and send exactly \
                those back to every retry",
        "{what}: expected the original response again\n  original: {}\n  got:      {}",
        original.summary(),
        replay.summary()
    );
    ensure!(
        replay.media_type() == original.media_type(),
        hint = "store the first response's Content-Type with its status and body, and send it \
                back with the replay: a replayed 502 is still application/problem+json",
        "{what}: the replay has Content-Type {:?}, the original had {:?}",
        replay.content_type,
        original.content_type
    );
    Ok(())
}

/// Fails unless the gateway has been called exactly `expected` times.
pub fn ensure_calls(gateway: &TestGateway, expected: usize, when: &str) -> Result<(), Failure> {
    let calls = gateway.calls();
    let hint = if expected == 0 {
        "reject a request that fails validation before calling the gateway"
    } else {
        "call the gateway only for a request that claimed a new key: a retry of a stored \
         response, or of a request in flight, must not call it again"
    };
    ensure!(
        calls == expected,
        hint = hint,
        "{when}: the gateway was called {calls} time(s), expected {expected}"
    );
    Ok(())
}
