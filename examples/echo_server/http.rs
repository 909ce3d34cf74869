//! A minimal HTTP/1.1 server for signalling: one request per connection, `Connection: close`.
//! Enough for a browser's `fetch`; not a general web server.

use core::time::Duration;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted (an SDP offer or a JSON report).
pub const MAX_BODY: usize = 1024 * 1024;
/// Larger bodies are read and dropped up to this size before the `413` answer.
const MAX_DISCARD: usize = 16 * 1024 * 1024;

/// A parsed request.
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, query included.
    pub path: String,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// Every header, as sent (names compared case-insensitively by [`Request::header`]).
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the media type of the body is `media_type` (parameters such as `charset` ignored).
    pub fn has_content_type(&self, media_type: &str) -> bool {
        self.content_type
            .as_deref()
            .and_then(|t| t.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(media_type))
    }
}

/// A response to write.
pub struct Response {
    /// Status code and reason, e.g. `201 Created`.
    pub status: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
    /// More header fields (`Location`, `Link`, CORS, …).
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    /// A plain-text response.
    pub fn text(status: &'static str, body: impl Into<String>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body.into().into_bytes())
    }

    /// A response with a body of `content_type`.
    pub fn new(status: &'static str, content_type: &'static str, body: Vec<u8>) -> Response {
        Response { status, content_type, body, headers: Vec::new() }
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// Reads one request from `stream`. Errors on malformed or oversized requests and on timeouts.
pub fn read_request(stream: &mut TcpStream) -> io::Result<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if buf.len() > MAX_HEAD {
            return Err(bad("request head too large"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(bad("connection closed before the end of the head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = core::str::from_utf8(&buf[..head_end]).map_err(|_| bad("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let mut content_length = 0usize;
    let mut content_type = None;
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if headers.len() < 64 {
            headers.push((name.trim().to_string(), value.to_string()));
        }
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().map_err(|_| bad("bad Content-Length"))?;
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("Transfer-Encoding is not supported"));
        }
    }
    if content_length > MAX_BODY {
        // Read (and drop) a body of reasonable size first, so that a client writing all of it before
        // reading gets the 413 rather than a reset connection.
        let mut left = content_length.saturating_sub(buf.len() - (head_end + 4));
        while left > 0 && content_length <= MAX_DISCARD {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n);
        }
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("body over {MAX_BODY} bytes")));
    }
    let mut body = buf.split_off(head_end + 4);
    body.truncate(content_length);
    while body.len() < content_length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(bad("connection closed before the end of the body"));
        }
        let take = n.min(content_length - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    Ok(Request { method, path, content_type, headers, body })
}

/// Writes `resp` and closes the connection.
pub fn write_response(stream: &mut TcpStream, resp: &Response) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        resp.status,
        resp.content_type,
        resp.body.len()
    );
    for (name, value) in &resp.headers {
        // A value cannot end the head early: line breaks are dropped.
        let value: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&resp.body)?;
    stream.flush()
}

/// Accepts connections until `stop()` says so, handling each on its own thread with `handler`.
pub fn serve<H>(listener: TcpListener, stop: impl Fn() -> bool, handler: H)
where
    H: Fn(Request) -> Response + Clone + Send + 'static,
{
    for conn in listener.incoming() {
        if stop() {
            break;
        }
        let Ok(mut stream) = conn else { continue };
        let handler = handler.clone();
        std::thread::spawn(move || {
            let resp = match read_request(&mut stream) {
                Ok(req) => handler(req),
                Err(e) if e.kind() == io::ErrorKind::FileTooLarge => {
                    Response::text("413 Content Too Large", format!("{e}\n"))
                }
                Err(e) => Response::text("400 Bad Request", format!("{e}\n")),
            };
            let _ = write_response(&mut stream, &resp);
        });
    }
}
