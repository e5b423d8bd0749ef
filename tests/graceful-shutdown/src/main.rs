//! Acceptance suite for the `graceful-shutdown` exercise: an HTTP service with queue workers
//! that drains on SIGTERM the way Kubernetes expects.
//!
//! Every check runs the attempt's own binary as a child process (built by the grader next to
//! this suite), on a port the system picks, with a fresh Redis key prefix and pool events file.
//! It drives real HTTP traffic at the service, enqueues real jobs in Redis, sends real signals,
//! and judges from outside: responses and connection states, the Redis lists, the pool's
//! events, the exit status and when it came. Real time throughout: every wait is bounded and
//! scaled by the grader's `--timeout-scale`, slow work lasts 0.4-1.5 s, and each verdict on
//! time leaves a scaled second of slack to a correct service (see `lifecycle`).
//!
//! # Layout
//! - `service`: starting the binary, signals, exit, the background work checks start.
//! - `http`: a raw HTTP/1.1 client that can tell a clean close from a reset.
//! - `queue`, `events`: the Redis lists and the pool's events file.
//! - `drain`: `readiness`, `inflight`, `nowork`.
//! - `jobs`: `queue`, `pool`.
//! - `lifecycle`: `exit`, `signals`.
//! - `abandon`: `exit.deadline_abandons`, a model-based check of the drain deadline.

mod abandon;
mod drain;
mod events;
mod http;
mod jobs;
mod lifecycle;
mod queue;
mod service;

use grade_kit::check;

fn main() {
    grade_kit::main(vec![
        check(
            "readiness.flips_first",
            "readiness",
            "after the signal, with work in flight, GET /healthz on a new connection answers \
             503 (200 before), and GET /livez still answers 200",
        )
        .tokio(drain::flips_first),
        check(
            "inflight.complete",
            "inflight",
            "four GET /slow requests (0.4-0.8 s) running when the signal comes all get a \
             complete 200 response",
        )
        .tokio(drain::complete),
        check(
            "nowork.new_requests_rejected",
            "nowork",
            "a new GET /slow during the drain is answered 503, or its connection refused",
        )
        .tokio(drain::new_requests_rejected),
        check(
            "nowork.keepalive_closed",
            "nowork",
            "a keep-alive connection idle at the signal is closed cleanly, or its next response \
             carries Connection: close and then it is closed; never reset",
        )
        .tokio(drain::keepalive_closed),
        check(
            "queue.held_jobs_finish",
            "queue",
            "jobs the workers hold when the signal comes are finished: each in done exactly \
             once, none left in processing or the queue",
        )
        .tokio(jobs::held_jobs_finish),
        check(
            "queue.no_new_job",
            "queue",
            "jobs enqueued from the moment readiness flips on, while a worker is busy and two \
             are idle (blocked in BLMOVE), are not taken: they are all still in the queue after \
             exit",
        )
        .tokio(jobs::no_new_job),
        check(
            "pool.closed_last",
            "pool",
            "the pool is closed exactly once, after the last request and the last job release \
             their connections",
        )
        .tokio(jobs::closed_last),
        check(
            "exit.clean_within_deadline",
            "exit",
            "after a complete drain the process exits 0, as soon as its work is done and well \
             within the deadline",
        )
        .tokio(lifecycle::clean_within_deadline),
        check(
            "exit.deadline_abandons",
            "exit",
            "model: seeded drains in which a request or a job outlasts the deadline (the other \
             ending just before it, idle workers, a long uptime before the signal): the process \
             exits non-zero exactly at the deadline counted from the first signal",
        )
        .tokio(abandon::deadline_abandons),
        check(
            "signals.sigterm_drains",
            "signals",
            "SIGTERM starts the same drain as SIGINT: the process survives it, finishes its \
             work and exits by itself",
        )
        .tokio(lifecycle::sigterm_drains),
        check(
            "signals.second_signal",
            "signals",
            "with work that never ends, further signals during the drain neither kill the \
             process, nor cut the drain short, nor restart the deadline",
        )
        .tokio(lifecycle::second_signal),
    ])
}
