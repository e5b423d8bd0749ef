//! The Redis wire protocol (RESP2/RESP3), as much of it as a suite needs to stand between an
//! attempt and its Redis: measuring whole frames and naming commands.
//!
//! Suites that judge *how* an attempt talks to Redis (one round trip or two; a retry arriving
//! between two of its writes) put a TCP proxy in front of the grader's server and watch the
//! frames go by. Every such proxy needs the same three pieces, so they live here once: the
//! length of a complete frame, the name of a command, and the split of a `redis://` URL into
//! the address to connect to and a way to point the attempt at the proxy instead.

use crate::Failure;

/// Bytes that cannot be the start of a RESP frame (a length that is not a number): the stream
/// is not Redis's protocol, or the proxy lost its place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed RESP frame")
    }
}

impl std::error::Error for Malformed {}

/// The length of the complete RESP2/RESP3 value at the start of `buf` (`None`: incomplete),
/// and whether it is an out-of-band push rather than a reply.
pub fn frame(buf: &[u8]) -> Result<Option<(usize, bool)>, Malformed> {
    let Some(line) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let after = line + 2;
    let number = || -> Result<i64, Malformed> {
        std::str::from_utf8(&buf[1..line])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(Malformed)
    };
    let kind = buf[0];
    match kind {
        b'$' | b'!' | b'=' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some((after, false)));
            }
            let end = after + n as usize + 2;
            Ok((buf.len() >= end).then_some((end, false)))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some((after, false)));
            }
            let mut count = if matches!(kind, b'%' | b'|') {
                2 * n
            } else {
                n
            };
            if kind == b'|' {
                count += 1; // An attribute is followed by the value it annotates.
            }
            let mut pos = after;
            for _ in 0..count {
                match frame(&buf[pos..])? {
                    Some((len, _)) => pos += len,
                    None => return Ok(None),
                }
            }
            Ok(Some((pos, kind == b'>')))
        }
        // Simple strings, errors, numbers, nulls, booleans, doubles, big numbers, and inline
        // commands: one line.
        _ => Ok(Some((after, false))),
    }
}

/// The command name of a client frame: the first element of the array, uppercased.
pub fn command_name(frame: &[u8]) -> String {
    let text = String::from_utf8_lossy(frame);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let name = if first.starts_with('*') {
        lines.nth(1).unwrap_or_default()
    } else {
        first.split_whitespace().next().unwrap_or_default()
    };
    name.to_ascii_uppercase()
}

/// Splits a `redis://` URL into the upstream `host:port` and a function that rebuilds the URL
/// with another `host:port` (keeping credentials, database and options).
pub fn split_url(url: &str) -> Result<(String, impl Fn(&str) -> String), Failure> {
    let Some(rest) = url.strip_prefix("redis://") else {
        crate::fail!(
            "a proxy in front of Redis needs a plain TCP Redis URL (redis://…), not {url:?}"
        );
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (credentials, host_port) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let upstream = match host_port {
        "" => "127.0.0.1:6379".to_owned(),
        hp if hp.contains(':') => hp.to_owned(),
        host => format!("{host}:6379"),
    };
    let (credentials, tail) = (credentials.to_owned(), tail.to_owned());
    Ok((upstream, move |host_port: &str| {
        format!("redis://{credentials}{host_port}{tail}")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_measured_whole_or_not_at_all() {
        let cmd = b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
        assert_eq!(frame(cmd), Ok(Some((cmd.len(), false))));
        assert_eq!(frame(&cmd[..cmd.len() - 1]), Ok(None));
        assert_eq!(command_name(cmd), "ECHO");
        assert_eq!(
            frame(b"*3\r\n:1\r\n:5\r\n:1500\r\n+OK"),
            Ok(Some((19, false)))
        );
        assert_eq!(frame(b">2\r\n+a\r\n+b\r\n"), Ok(Some((12, true))));
        assert_eq!(frame(b"$-1\r\n"), Ok(Some((5, false))));
    }

    #[test]
    fn urls_keep_everything_but_the_address() {
        let (upstream, rebuild) = split_url("redis://:pw@10.0.0.1:6380/2?protocol=resp3").unwrap();
        assert_eq!(upstream, "10.0.0.1:6380");
        assert_eq!(
            rebuild("127.0.0.1:1"),
            "redis://:pw@127.0.0.1:1/2?protocol=resp3"
        );
        let (upstream, rebuild) = split_url("redis://localhost").unwrap();
        assert_eq!(upstream, "localhost:6379");
        assert_eq!(rebuild("127.0.0.1:1"), "redis://127.0.0.1:1");
    }
}
