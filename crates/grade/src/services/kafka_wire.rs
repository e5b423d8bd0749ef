//! The one Kafka request the grader sends itself, ApiVersions, over a std `TcpStream`: it tells
//! that a broker is up and speaks the Kafka protocol (tansu, Apache Kafka and Redpanda alike).
//!
//! A connection alone proves little: Docker's port proxy accepts connections on the published
//! port before Kafka listens behind it, and a broker accepts connections a moment before it
//! can answer. ApiVersions is the first request every client sends, before it knows anything
//! about the broker, so version 0 of it is the one request every broker must answer.
//!
//! # The frames
//! A request is `int32 size` (of what follows), the request header (v1: `int16 api_key`,
//! `int16 api_version`, `int32 correlation_id`, `int16`-length `client_id`) and the body (empty
//! for ApiVersions v0). The response is `int32 size`, the response header (v0: the
//! `correlation_id` echoed) and the body: `int16 error_code`, then an `int32`-counted array of
//! `(int16 api_key, int16 min_version, int16 max_version)`. Every integer is big-endian.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::KafkaWireError;

/// The ApiVersions request's key.
pub const API_VERSIONS: i16 = 18;

/// The `client_id` the grader names itself with, visible in a broker's logs.
const CLIENT_ID: &str = "grade";

/// The largest response accepted. An ApiVersions answer is well under a kilobyte; a server
/// that is not Kafka (an HTTP server answering `HTTP/1.1`) reads as a size of a gigabyte.
const MAX_RESPONSE: usize = 64 * 1024;

/// What a broker's ApiVersions v0 answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersions {
    /// 0, or the Kafka error code (35, UNSUPPORTED_VERSION, from a broker that no longer takes
    /// version 0: it is up and speaks Kafka all the same).
    pub error_code: i16,
    /// How many APIs the broker lists.
    pub apis: usize,
}

/// The bytes of an ApiVersions v0 request with `correlation_id`.
pub fn api_versions_request(correlation_id: i32) -> Vec<u8> {
    let client_id = CLIENT_ID.as_bytes();
    let mut frame = Vec::with_capacity(14 + client_id.len());
    // Everything after the size field: 2 + 2 + 4 + 2 + the client id; the body is empty.
    let size = 10 + client_id.len();
    frame.extend_from_slice(&(size as i32).to_be_bytes());
    frame.extend_from_slice(&API_VERSIONS.to_be_bytes());
    frame.extend_from_slice(&0i16.to_be_bytes());
    frame.extend_from_slice(&correlation_id.to_be_bytes());
    frame.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    frame.extend_from_slice(client_id);
    frame
}

/// Reads an ApiVersions v0 response (everything after its size field), which must answer
/// `correlation_id`.
pub fn parse_api_versions(
    response: &[u8],
    correlation_id: i32,
) -> Result<ApiVersions, KafkaWireError> {
    let protocol = |what: String| KafkaWireError::Protocol(what);
    let (Some(echoed), Some(error_code)) = (int32(response, 0), int16(response, 4)) else {
        return Err(protocol(format!(
            "{} bytes are too short for an ApiVersions response",
            response.len()
        )));
    };
    if echoed != correlation_id {
        return Err(protocol(format!(
            "it answered correlation id {echoed}, not {correlation_id}"
        )));
    }
    // A broker refusing the version may send no array at all; one that lists APIs must list
    // as many as it says.
    let apis = match int32(response, 6) {
        None => 0,
        Some(count) => {
            let count = usize::try_from(count).unwrap_or(0);
            if response.len() < 10 + count * 6 {
                return Err(protocol(format!(
                    "it lists {count} APIs in {} bytes",
                    response.len()
                )));
            }
            count
        }
    };
    Ok(ApiVersions { error_code, apis })
}

/// Sends ApiVersions v0 to `address` (`HOST:PORT`) and waits for its answer, each step within
/// `timeout`.
pub fn api_versions(
    address: &str,
    correlation_id: i32,
    timeout: Duration,
) -> Result<ApiVersions, KafkaWireError> {
    let mut stream = connect(address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(&api_versions_request(correlation_id))?;
    let mut size = [0; 4];
    stream.read_exact(&mut size)?;
    let size = i32::from_be_bytes(size);
    let size = usize::try_from(size)
        .ok()
        .filter(|&size| size <= MAX_RESPONSE)
        .ok_or_else(|| {
            KafkaWireError::Protocol(format!("its first bytes announce a {size}-byte response"))
        })?;
    let mut response = vec![0; size];
    stream.read_exact(&mut response)?;
    parse_api_versions(&response, correlation_id)
}

/// Connects to the first address `address` resolves to that accepts.
fn connect(address: &str, timeout: Duration) -> Result<TcpStream, KafkaWireError> {
    let mut last = None;
    for resolved in address.to_socket_addrs()? {
        match TcpStream::connect_timeout(&resolved, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => last = Some(error),
        }
    }
    Err(last
        .unwrap_or_else(|| std::io::Error::other(format!("{address} resolves to no address")))
        .into())
}

fn int16(bytes: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn int32(bytes: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    use super::*;

    #[test]
    fn the_request_is_apiversions_v0_with_a_header_v1() {
        assert_eq!(
            api_versions_request(0x0102_0304),
            [
                0, 0, 0, 15, // size: the 15 bytes that follow
                0, 18, // api_key: ApiVersions
                0, 0, // api_version 0
                1, 2, 3, 4, // correlation_id
                0, 5, b'g', b'r', b'a', b'd', b'e', // client_id
            ]
        );
    }

    /// An ApiVersions v0 response body (without its size) listing `apis`.
    pub(crate) fn response(correlation_id: i32, error_code: i16, apis: &[i16]) -> Vec<u8> {
        let mut body = correlation_id.to_be_bytes().to_vec();
        body.extend_from_slice(&error_code.to_be_bytes());
        body.extend_from_slice(&(apis.len() as i32).to_be_bytes());
        for &api in apis {
            for value in [api, 0, 3] {
                body.extend_from_slice(&value.to_be_bytes());
            }
        }
        body
    }

    #[test]
    fn reads_a_response_that_answers_the_request() {
        assert_eq!(
            parse_api_versions(&response(7, 0, &[0, 1, 18]), 7).unwrap(),
            ApiVersions {
                error_code: 0,
                apis: 3
            }
        );
        // UNSUPPORTED_VERSION with no array: still a Kafka broker, up.
        assert_eq!(
            parse_api_versions(&[0, 0, 0, 7, 0, 35], 7).unwrap(),
            ApiVersions {
                error_code: 35,
                apis: 0
            }
        );
    }

    #[test]
    fn refuses_answers_to_another_request_and_truncated_ones() {
        let error = parse_api_versions(&response(8, 0, &[18]), 7).unwrap_err();
        assert!(
            error.to_string().contains("correlation id 8, not 7"),
            "{error}"
        );
        let mut short = response(7, 0, &[0, 18]);
        short.truncate(short.len() - 1);
        let error = parse_api_versions(&short, 7).unwrap_err();
        assert!(error.to_string().contains("lists 2 APIs"), "{error}");
        assert!(parse_api_versions(&[0, 0, 0], 7).is_err());
    }

    /// A broker stand-in on 127.0.0.1: answers every ApiVersions request on every connection,
    /// until the test ends. Binds `port`, or any free port with 0.
    pub(crate) fn fake_broker(port: u16) -> (u16, JoinHandle<()>) {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    let mut request = [0; 19];
                    while stream.read_exact(&mut request).is_ok() {
                        let correlation = i32::from_be_bytes(request[8..12].try_into().unwrap());
                        let body = response(correlation, 0, &[18]);
                        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
                        frame.extend_from_slice(&body);
                        if stream.write_all(&frame).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (port, handle)
    }

    #[test]
    fn asks_a_broker_over_tcp() {
        let (port, _broker) = fake_broker(0);
        let answer = api_versions(&format!("127.0.0.1:{port}"), 41, Duration::from_secs(2));
        assert_eq!(
            answer.unwrap(),
            ApiVersions {
                error_code: 0,
                apis: 1
            }
        );
    }

    #[test]
    fn a_server_that_is_not_kafka_is_refused() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let _server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        });
        let error = api_versions(&format!("127.0.0.1:{port}"), 1, Duration::from_secs(2))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("not a Kafka answer"), "{error}");
    }
}
