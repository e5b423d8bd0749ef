//! The HTTP side of the drain: readiness, requests in flight, new work and keep-alive
//! connections (criteria `readiness`, `inflight` and `nowork`).
//!
//! Checks that need the drain to last keep the service busy with both a slow request and a
//! long job ([`Service::keep_busy`]): a drain that waits for either one lasts long enough to
//! observe, so a bug in how one kind of work is drained fails its own check, not these.

use std::time::Duration;

use grade_kit::env::scaled;
use grade_kit::{CheckResult, ensure, fail};
use tokio::time::Instant;

use crate::http::{self, Conn, HttpError, IdleState};
use crate::service::{Options, STOP, Service, ms};

/// A deadline that never fires in these checks.
fn no_deadline() -> Options {
    Options {
        workers: 1,
        deadline: scaled(Duration::from_secs(10)),
    }
}

/// How long a probe or a fast request may take.
fn probe_limit() -> Duration {
    scaled(Duration::from_secs(2))
}

/// How long after the signal the checks assume the attempt has begun its drain.
fn drain_started() -> Duration {
    scaled(Duration::from_millis(300))
}

/// `readiness.flips_first`.
pub async fn flips_first() -> CheckResult {
    let mut service = Service::start(no_deadline()).await?;
    let result = flips_first_on(&mut service).await;
    service.explain(result)
}

async fn flips_first_on(service: &mut Service) -> CheckResult {
    match http::get(service.addr, "/healthz", probe_limit()).await {
        Ok(response) if response.status == 200 => {}
        Ok(response) => fail!(
            "before any signal, GET /healthz answered {}: expected 200 (ready)",
            response.summary()
        ),
        Err(error) => fail!("before any signal, GET /healthz failed: {error}"),
    }
    service.keep_busy("ready-job:1500", 1500).await?;
    service.signal(STOP)?;
    let signalled = Instant::now();
    let limit = scaled(Duration::from_secs(1));
    // Each probe on a connection of its own, as the kubelet does.
    loop {
        match http::get(service.addr, "/healthz", probe_limit()).await {
            Ok(response) if response.status == 503 => break,
            Ok(response) if signalled.elapsed() > limit => fail!(
                hint = "flip readiness the moment the first signal arrives, before anything \
                        else: that is what takes the pod out of the Service's endpoints",
                "{} after SIGINT, with a request and a job still in flight, GET /healthz still \
                 answered {}: expected 503",
                ms(limit),
                response.summary()
            ),
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(HttpError::Refused) => fail!(
                hint = "keep accepting connections while draining: close the listener only once \
                        the work in flight is done (axum's `with_graceful_shutdown` stops \
                        accepting at once, so trigger it at the end of the drain, not at the \
                        signal)",
                "after SIGINT, with work still in flight, a new connection for GET /healthz \
                 was refused: the listener closed before the kubelet could see readiness flip \
                 (or probe liveness)"
            ),
            Err(error) => fail!("after SIGINT, GET /healthz failed: {error}; expected 503"),
        }
    }
    match http::get(service.addr, "/livez", probe_limit()).await {
        Ok(response) if response.status == 200 => Ok(()),
        Ok(response) => fail!(
            hint = "liveness asks \"should I be restarted?\": keep /livez at 200 while draining",
            "while draining, GET /livez answered {}: expected 200, or the kubelet restarts the \
             container in the middle of its drain",
            response.summary()
        ),
        Err(error) => fail!("while draining, GET /livez failed: {error}; expected 200"),
    }
}

/// `inflight.complete`.
pub async fn complete() -> CheckResult {
    let mut service = Service::start(no_deadline()).await?;
    let result = complete_on(&mut service).await;
    service.explain(result)
}

async fn complete_on(service: &mut Service) -> CheckResult {
    let durations = [800, 800, 800, 400];
    let requests: Vec<_> = durations
        .iter()
        .map(|ms| (ms, service.spawn_get(&format!("/slow?ms={ms}"))))
        .collect();
    service
        .wait_in_use(durations.len(), "four GET /slow requests")
        .await?;
    service.signal(STOP)?;
    for (ms, request) in requests {
        match request.await {
            Ok(Ok(response)) if response.status == 200 => {}
            Ok(Ok(response)) => fail!(
                hint = "refuse only requests that arrive after the signal",
                "GET /slow?ms={ms}, already running when SIGINT came, got {}: expected 200",
                response.summary()
            ),
            Ok(Err(error)) => fail!(
                hint = "wait for the requests in flight before returning from run (and from \
                        main): returning drops them, and the runtime closes their sockets",
                "GET /slow?ms={ms}, already running when SIGINT came, got no complete \
                 response: {error}"
            ),
            Err(error) => fail!("the suite's request task failed: {error}"),
        }
    }
    Ok(())
}

/// `nowork.new_requests_rejected`.
pub async fn new_requests_rejected() -> CheckResult {
    let mut service = Service::start(no_deadline()).await?;
    let result = new_requests_rejected_on(&mut service).await;
    service.explain(result)
}

async fn new_requests_rejected_on(service: &mut Service) -> CheckResult {
    service.keep_busy("nowork-job:1500", 1500).await?;
    service.signal(STOP)?;
    tokio::time::sleep(drain_started()).await;
    match http::get(service.addr, "/slow?ms=100", probe_limit()).await {
        Ok(response) if response.status == 503 => Ok(()),
        // Refused, or accepted and closed unread: either way no new work was done.
        Err(error) if error.before_any_response() => Ok(()),
        Ok(response) => fail!(
            hint = "while draining, answer new work with 503 (the listener stays open for the \
                    probes, so check the draining flag in the handler)",
            "GET /slow?ms=100 sent {} after SIGINT, on a new connection, got {}: expected 503 \
             or a refused connection",
            ms(drain_started()),
            response.summary()
        ),
        Err(error) => fail!(
            "GET /slow?ms=100 sent {} after SIGINT, on a new connection: {error}; expected 503 \
             or a refused connection",
            ms(drain_started())
        ),
    }
}

/// `nowork.keepalive_closed`.
pub async fn keepalive_closed() -> CheckResult {
    let mut service = Service::start(no_deadline()).await?;
    let result = keepalive_closed_on(&mut service).await;
    service.explain(result)
}

async fn keepalive_closed_on(service: &mut Service) -> CheckResult {
    let hint = "while draining, add `Connection: close` to every response (hyper then closes \
                the connection after it), and let idle connections be closed cleanly, never \
                dropped mid-response";
    let mut conn = Conn::open(service.addr)
        .await
        .map_err(|error| grade_kit::Failure::new(format!("cannot connect: {error}")))?;
    match conn.get("/livez", true, probe_limit()).await {
        Ok(response) if response.status == 200 && !response.closes_connection() => {}
        Ok(response) => fail!(
            "before any signal, a keep-alive GET /livez got {} (Connection: close = {}): \
             expected 200 on a connection that stays open (HTTP/1.1 keep-alive)",
            response.summary(),
            response.closes_connection()
        ),
        Err(error) => fail!("before any signal, a keep-alive GET /livez failed: {error}"),
    }
    service.keep_busy("keepalive-job:1500", 1500).await?;
    service.signal(STOP)?;
    tokio::time::sleep(drain_started()).await;
    // Either the server closed the idle connection when the drain began...
    match conn.idle_state(Duration::from_millis(50)).await {
        IdleState::Closed => return Ok(()),
        IdleState::Reset => fail!(
            hint = hint,
            "the idle keep-alive connection was reset (RST) after SIGINT: close it cleanly"
        ),
        IdleState::Unexpected => fail!("the server sent bytes on an idle keep-alive connection"),
        IdleState::Open => {}
    }
    // ...or it is still open, and the next response on it must say it is the last.
    let response = match conn.get("/livez", true, probe_limit()).await {
        Ok(response) => response,
        // Closed just as the request went out: clean, and the client may retry elsewhere.
        Err(HttpError::Closed { received: 0 }) => return Ok(()),
        Err(error) => fail!(
            hint = hint,
            "GET /livez on a keep-alive connection, {} after SIGINT: {error}",
            ms(drain_started())
        ),
    };
    ensure!(
        response.closes_connection(),
        hint = hint,
        "GET /livez on a keep-alive connection, {} after SIGINT, got {} without \
         `Connection: close`: the client will keep sending requests on a connection that dies \
         with the process",
        ms(drain_started()),
        response.summary()
    );
    match conn.idle_state(scaled(Duration::from_secs(3))).await {
        IdleState::Closed => Ok(()),
        IdleState::Reset => fail!(
            hint = hint,
            "after its `Connection: close` response the connection was reset, not closed"
        ),
        IdleState::Open => {
            fail!("the server answered `Connection: close` but kept the connection open for 3 s")
        }
        IdleState::Unexpected => {
            fail!("the server sent bytes after a `Connection: close` response")
        }
    }
}
