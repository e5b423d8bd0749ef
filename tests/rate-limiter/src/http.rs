//! The attempt's middleware on a real HTTP server, or called directly as a tower service, and
//! who each request appears to come from.
//!
//! Peer addresses are chosen per request through a suite-side layer in front of the limiter
//! that rewrites `ConnectInfo<SocketAddr>` from an `x-test-peer` header, the way a trusted
//! proxy layer would: the limiter sees them exactly as it sees real peers, and the suite can
//! play many clients from one loopback socket, portably.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use grade_kit::{Failure, fail};
use rate_limiter::RateLimiter;
use tower::ServiceExt;

/// The API key header every check configures.
pub const API_KEY: &str = "x-api-key";
/// A suite-side header: the peer address the request should appear to come from.
const TEST_PEER: &str = "x-test-peer";
/// Generous real-time limit on one request while Redis is up.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(5);

/// How many times the application's handler ran, in this check's process (every check runs
/// in a process of its own).
pub static HANDLED: AtomicU64 = AtomicU64::new(0);

/// The application: one route answering 200 "ok" (and counting its calls in [`HANDLED`]),
/// behind the limiter, behind a suite layer that lets a request pick its peer address
/// (`x-test-peer`), as a trusted proxy would.
pub fn app(limiter: &RateLimiter) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async {
                HANDLED.fetch_add(1, Ordering::SeqCst);
                "ok"
            }),
        )
        .layer(limiter.layer())
        .layer(axum::middleware::map_request(pick_peer))
}

async fn pick_peer(mut request: Request) -> Request {
    let peer = request
        .headers()
        .get(TEST_PEER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<SocketAddr>().ok());
    if let Some(peer) = peer {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    request
}

/// Who a request comes from.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// The API key, if any.
    pub key: Option<&'a str>,
    /// The peer address the limiter sees.
    pub peer: SocketAddr,
}

impl<'a> Who<'a> {
    /// A client with an API key, from an address of its own (derived from the key), so that
    /// keyed clients stay apart even for a limiter that wrongly keys by address.
    pub fn key(key: &'a str) -> Self {
        let hash = key.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let [_, a, b, c] = hash.to_be_bytes();
        Self {
            key: Some(key),
            peer: SocketAddr::from(([10, a, b, c.max(1)], 9999)),
        }
    }

    /// A client with an API key, from `peer`.
    pub fn key_from(key: &'a str, peer: &str) -> Self {
        Self {
            key: Some(key),
            peer: address(peer),
        }
    }

    /// An anonymous client at `peer` (`ip:port`).
    pub fn ip(peer: &str) -> Self {
        Self {
            key: None,
            peer: address(peer),
        }
    }

    fn request(&self) -> Request {
        let mut builder = Request::builder()
            .uri("/")
            .header(TEST_PEER, self.peer.to_string());
        if let Some(key) = self.key {
            builder = builder.header(API_KEY, key);
        }
        builder.body(Body::empty()).expect("a valid request")
    }

    /// Who this is, for messages.
    pub fn describe(&self) -> String {
        match self.key {
            Some(key) => format!("{API_KEY}: {key} from {}", self.peer),
            None => format!("no API key, from {}", self.peer),
        }
    }
}

/// A peer address written by the suite itself.
fn address(peer: &str) -> SocketAddr {
    peer.parse()
        .unwrap_or_else(|e| panic!("suite bug: {peer:?} is not a socket address: {e}"))
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The header fields.
    pub headers: HeaderMap,
    /// The body, as text.
    pub body: String,
}

impl Reply {
    /// `Ok(true)` for 200 (the handler ran), `Ok(false)` for 429, a failure otherwise.
    pub fn allowed(&self, what: &str) -> Result<bool, Failure> {
        match self.status {
            StatusCode::OK => Ok(true),
            StatusCode::TOO_MANY_REQUESTS => Ok(false),
            status => fail!(
                hint = "with Redis up, a request is either passed to the service (200 here) or \
                        rejected with 429; a 503 means the limiter could not use Redis",
                "{what}: expected 200 or 429, got {status} with body {:?}",
                self.body
            ),
        }
    }

    /// A header field as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The application served on a loopback port, and an HTTP client for it.
pub struct Server {
    base: String,
    client: reqwest::Client,
}

impl Server {
    /// Serves `app(limiter)` with peer addresses (`ConnectInfo<SocketAddr>`).
    pub async fn start(limiter: &RateLimiter) -> Result<Self, Failure> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Failure::new(format!("cannot bind a loopback port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("no local address: {e}")))?;
        let service = app(limiter).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| Failure::new(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            base: format!("http://{addr}/"),
            client,
        })
    }

    /// `GET /` as `who`, within `limit` of real time (scaled).
    pub async fn get_within(&self, who: Who<'_>, limit: Duration) -> Result<Reply, Failure> {
        let mut request = self
            .client
            .get(&self.base)
            .header(TEST_PEER, who.peer.to_string());
        if let Some(key) = who.key {
            request = request.header(API_KEY, key);
        }
        let what = format!("GET / ({})", who.describe());
        let response = grade_kit::time::within(limit, &what, request.send())
            .await?
            .map_err(|e| Failure::new(format!("{what} failed: {e}")))?;
        let status = StatusCode::from_u16(response.status().as_u16())
            .map_err(|e| Failure::new(format!("{what}: bad status: {e}")))?;
        let headers = convert_headers(response.headers());
        let body = grade_kit::time::within(limit, &what, response.text())
            .await?
            .map_err(|e| Failure::new(format!("{what}: cannot read the body: {e}")))?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// `GET /` as `who`.
    pub async fn get(&self, who: Who<'_>) -> Result<Reply, Failure> {
        self.get_within(who, REQUEST_LIMIT).await
    }

    /// `GET /` as `who`: whether it was allowed (200) or rejected (429).
    pub async fn allowed(&self, who: Who<'_>) -> Result<bool, Failure> {
        let reply = self.get(who).await?;
        reply.allowed(&format!("GET / ({})", who.describe()))
    }
}

/// reqwest and axum use the same `http` crate major, but keep the conversion explicit.
fn convert_headers(headers: &reqwest::header::HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_str().as_bytes()),
            axum::http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(name, value);
        }
    }
    out
}

/// Calls the middleware directly, without HTTP: `oneshot` on a clone of the router. The whole
/// response, headers included.
pub async fn call_reply(router: &Router, who: Who<'_>) -> Result<Reply, Failure> {
    let what = format!("a request ({})", who.describe());
    let response =
        grade_kit::time::within(REQUEST_LIMIT, &what, router.clone().oneshot(who.request()))
            .await?
            .unwrap_or_else(|never| match never {});
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Calls the middleware directly: whether the request was allowed (200) or rejected (429).
pub async fn call(router: &Router, who: Who<'_>) -> Result<bool, Failure> {
    let reply = call_reply(router, who).await?;
    reply.allowed(&format!("a request ({})", who.describe()))
}
