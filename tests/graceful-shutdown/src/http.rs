//! A deliberately small HTTP/1.1 client over a raw TCP stream.
//!
//! The suite judges connections, not just responses: whether a connection was refused, closed
//! cleanly (FIN) or reset (RST), whether a response was cut off, and what `Connection` header
//! came with it. A full client (reqwest, hyper's pool) hides exactly those details behind
//! retries and pooling, so the suite speaks the protocol itself: one request at a time, bodies
//! framed by `Content-Length` or chunked encoding, or read to the end.

use std::fmt;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the response asks the client to close the connection (`Connection: close`).
    pub fn closes_connection(&self) -> bool {
        self.headers.iter().any(|(name, value)| {
            name == "connection"
                && value
                    .split(',')
                    .any(|token| token.trim().eq_ignore_ascii_case("close"))
        })
    }

    /// The status and body, for messages: `503 "draining"`.
    pub fn summary(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        format!("{} {:?}", self.status, body.trim())
    }
}

/// Why no complete response came.
#[derive(Debug)]
pub enum HttpError {
    /// The connection was refused: nothing listens on the port.
    Refused,
    /// The peer closed the connection (FIN) after sending `received` bytes of a response.
    Closed { received: usize },
    /// The peer reset the connection (RST) after sending `received` bytes of a response.
    Reset { received: usize },
    /// No complete response within the time allowed.
    TimedOut { received: usize },
    /// Bytes that are not an HTTP/1.1 response.
    Malformed(String),
    /// Any other I/O error.
    Io(std::io::Error),
}

impl HttpError {
    /// Whether the server sent no byte of a response before closing or resetting.
    pub fn before_any_response(&self) -> bool {
        matches!(
            self,
            Self::Refused | Self::Closed { received: 0 } | Self::Reset { received: 0 }
        )
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused => write!(f, "connection refused"),
            Self::Closed { received: 0 } => write!(f, "connection closed before any response"),
            Self::Closed { received } => {
                write!(
                    f,
                    "connection closed in the middle of a response ({received} bytes in)"
                )
            }
            Self::Reset { received: 0 } => write!(f, "connection reset before any response"),
            Self::Reset { received } => {
                write!(
                    f,
                    "connection reset in the middle of a response ({received} bytes in)"
                )
            }
            Self::TimedOut { received } => {
                write!(
                    f,
                    "no complete response in time ({received} bytes received)"
                )
            }
            Self::Malformed(what) => write!(f, "malformed response: {what}"),
            Self::Io(error) => write!(f, "{error}"),
        }
    }
}

/// What an idle connection looks like from the client side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleState {
    /// Still open: nothing to read.
    Open,
    /// The server closed it cleanly.
    Closed,
    /// The server reset it.
    Reset,
    /// The server sent bytes nobody asked for.
    Unexpected,
}

/// One client connection.
pub struct Conn {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Conn {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> Result<Self, HttpError> {
        match TcpStream::connect(addr).await {
            Ok(stream) => Ok(Self {
                stream,
                buffer: Vec::new(),
            }),
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => Err(HttpError::Refused),
            Err(error) => Err(HttpError::Io(error)),
        }
    }

    /// Sends `GET path` and reads the response, within `limit`. `keep_alive: false` sends
    /// `Connection: close`, as the kubelet's probes do.
    pub async fn get(
        &mut self,
        path: &str,
        keep_alive: bool,
        limit: Duration,
    ) -> Result<Response, HttpError> {
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: {connection}\r\n\r\n");
        if let Err(error) = self.stream.write_all(request.as_bytes()).await {
            return Err(io_error(error, 0));
        }
        match tokio::time::timeout(limit, self.read_response()).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::TimedOut {
                received: self.buffer.len(),
            }),
        }
    }

    /// Looks at an idle connection for `wait`: is it still open, closed, or reset?
    pub async fn idle_state(&mut self, wait: Duration) -> IdleState {
        let mut byte = [0u8; 1];
        match tokio::time::timeout(wait, self.stream.read(&mut byte)).await {
            Err(_) => IdleState::Open,
            Ok(Ok(0)) => IdleState::Closed,
            Ok(Ok(_)) => IdleState::Unexpected,
            // Any error on an idle read is the connection torn down: a reset, in practice.
            Ok(Err(_)) => IdleState::Reset,
        }
    }

    async fn read_response(&mut self) -> Result<Response, HttpError> {
        self.buffer.clear();
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| HttpError::Malformed(format!("status line {status_line:?}")))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        let body = if let Some(length) = header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| HttpError::Malformed(format!("content-length {length:?}")))?;
            while self.buffer.len() < head_end + length {
                self.fill().await?;
            }
            self.buffer[head_end..head_end + length].to_vec()
        } else if header("transfer-encoding").is_some_and(|value| value.contains("chunked")) {
            self.read_chunked(head_end).await?
        } else {
            // No framing: the body runs to the end of the connection.
            loop {
                match self.fill().await {
                    Ok(()) => {}
                    Err(HttpError::Closed { .. }) => break,
                    Err(error) => return Err(error),
                }
            }
            self.buffer[head_end..].to_vec()
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    async fn read_chunked(&mut self, mut at: usize) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(end) = find(&self.buffer[at..], b"\r\n") {
                    break at + end;
                }
                self.fill().await?;
            };
            let size_text = String::from_utf8_lossy(&self.buffer[at..line_end]).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| HttpError::Malformed(format!("chunk size {size_text:?}")))?;
            at = line_end + 2;
            // The chunk, then its CRLF (after the last, empty chunk: the trailer's end).
            while self.buffer.len() < at + size + 2 {
                self.fill().await?;
            }
            if size == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&self.buffer[at..at + size]);
            at += size + 2;
        }
    }

    /// Reads more bytes into the buffer; the end of the stream is an error here.
    async fn fill(&mut self) -> Result<(), HttpError> {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk).await {
            Ok(0) => Err(HttpError::Closed {
                received: self.buffer.len(),
            }),
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(error) => Err(io_error(error, self.buffer.len())),
        }
    }
}

/// `GET path` on a fresh connection that is closed afterwards, within `limit`.
pub async fn get(addr: SocketAddr, path: &str, limit: Duration) -> Result<Response, HttpError> {
    let mut conn = Conn::open(addr).await?;
    conn.get(path, false, limit).await
}

fn io_error(error: std::io::Error, received: usize) -> HttpError {
    if is_reset(&error) {
        HttpError::Reset { received }
    } else {
        HttpError::Io(error)
    }
}

fn is_reset(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
