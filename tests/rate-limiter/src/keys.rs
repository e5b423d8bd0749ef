//! `keys`: one client's exhaustion does not affect another's quota.
//!
//! A client is its API key when it sends one (wherever it calls from), else its peer IP (all
//! connections from one address share a quota, whatever their ports). Peer addresses are set
//! through the suite's `x-test-peer` layer, which rewrites `ConnectInfo<SocketAddr>` the way a
//! trusted proxy layer would: the limiter sees them exactly as it sees real peers.

use std::time::Duration;

use grade_kit::{CheckResult, ensure};

use crate::harness::{TestClock, aligned, config, limiter};
use crate::http::{Server, Who};

/// Sends `who` and checks the verdict, advancing the clock 1 ms first.
async fn expect(
    server: &Server,
    clock: &TestClock,
    who: Who<'_>,
    expected: bool,
    why: &str,
) -> CheckResult {
    clock.advance(Duration::from_millis(1));
    let allowed = server.allowed(who).await?;
    let verdict = |a: bool| if a { "allowed" } else { "rejected" };
    let from = match who.key {
        Some("") => format!("an empty API key header, from {}", who.peer),
        Some(key) => format!("API key {key:?} from {}", who.peer),
        None => format!("no API key, from {}", who.peer),
    };
    ensure!(
        allowed == expected,
        hint = "key the count by `key:<API key>` when the header is present and not empty, \
                else by `ip:<peer IP>` (from ConnectInfo<SocketAddr>, without the port): two \
                namespaces, so that an API key never shares a quota with an address",
        "a request with {from} was {}, expected {}: {why}",
        verdict(allowed),
        verdict(expected)
    );
    Ok(())
}

/// Limit 2: API keys are separate clients, and a key is one client from any address.
pub async fn api_key() -> CheckResult {
    let clock = TestClock::at(aligned(Duration::from_secs(60)));
    let server = Server::start(&limiter(config("api-keys", "default", 2, 60), &clock)?).await?;
    let peer = "10.0.0.1:40001";
    let alpha = Who::key_from("alpha", peer);
    expect(&server, &clock, alpha, true, "first request of \"alpha\"").await?;
    expect(
        &server,
        &clock,
        alpha,
        true,
        "second request of \"alpha\" (limit 2)",
    )
    .await?;
    expect(
        &server,
        &clock,
        alpha,
        false,
        "\"alpha\" made 2 requests already",
    )
    .await?;
    let beta = Who::key_from("beta", peer);
    expect(
        &server,
        &clock,
        beta,
        true,
        "\"beta\" is another client, with its own quota, even from alpha's address",
    )
    .await?;
    expect(&server, &clock, beta, true, "\"beta\" made 1 request of 2").await?;
    let roaming = Who::key_from("alpha", "10.0.0.2:40002");
    expect(
        &server,
        &clock,
        roaming,
        false,
        "\"alpha\" is one client wherever it calls from, and has used its quota",
    )
    .await?;
    let anonymous = Who::ip(peer);
    expect(
        &server,
        &clock,
        anonymous,
        true,
        "a request without a key is its peer IP's, not \"alpha\"'s, even from alpha's address",
    )
    .await?;
    expect(
        &server,
        &clock,
        anonymous,
        true,
        "the second request of the anonymous client 10.0.0.1 (limit 2)",
    )
    .await?;
    expect(
        &server,
        &clock,
        Who::key_from("10.0.0.1", "10.0.0.3:40003"),
        true,
        "the API key \"10.0.0.1\" is a key, not the address 10.0.0.1 (which has used its \
         quota): keyed and anonymous requests never share a quota",
    )
    .await
}

/// Limit 2: without a key the client is the peer IP, whatever the port.
pub async fn peer_ip() -> CheckResult {
    let clock = TestClock::at(aligned(Duration::from_secs(60)));
    let server = Server::start(&limiter(config("peer-ips", "default", 2, 60), &clock)?).await?;
    expect(
        &server,
        &clock,
        Who::ip("10.0.1.1:50001"),
        true,
        "first request from 10.0.1.1",
    )
    .await?;
    expect(
        &server,
        &clock,
        Who::ip("10.0.1.1:50002"),
        true,
        "second request from 10.0.1.1 (limit 2)",
    )
    .await?;
    expect(
        &server,
        &clock,
        Who::ip("10.0.1.1:50003"),
        false,
        "10.0.1.1 made 2 requests already, from other ports: a port is a connection, not a client",
    )
    .await?;
    expect(
        &server,
        &clock,
        Who::ip("10.0.1.2:50001"),
        true,
        "10.0.1.2 is another client",
    )
    .await?;
    expect(
        &server,
        &clock,
        Who::ip("10.0.1.2:50004"),
        true,
        "10.0.1.2 made 1 request of 2",
    )
    .await?;
    expect(
        &server,
        &clock,
        Who::ip("[2001:db8::7]:443"),
        true,
        "2001:db8::7 is another client",
    )
    .await?;
    expect(
        &server,
        &clock,
        Who::ip("10.0.1.2:50005"),
        false,
        "10.0.1.2 made 2 requests already",
    )
    .await?;
    // An empty API key header is no API key: the client is still its peer IP.
    for (peer, expected, why) in [
        (
            "10.0.1.3:50001",
            true,
            "first request from 10.0.1.3 (with an empty API key)",
        ),
        (
            "10.0.1.3:50002",
            true,
            "second request from 10.0.1.3 (with an empty API key)",
        ),
        (
            "10.0.1.4:50001",
            true,
            "an empty API key header is no key: this client is 10.0.1.4, which made no request \
             yet, not the client \"\" that 10.0.1.3 exhausted",
        ),
        (
            "10.0.1.3:50003",
            false,
            "10.0.1.3 made 2 requests already (with an empty API key, the client is its IP)",
        ),
    ] {
        expect(&server, &clock, Who::key_from("", peer), expected, why).await?;
    }
    Ok(())
}
