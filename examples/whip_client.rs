//! A WHIP client (RFC 9725) that publishes a data channel: it POSTs an SDP offer to a WHIP endpoint,
//! takes the `201 Created` answer and the session URL from `Location`, connects, sends messages on the
//! channel (printing what comes back), and ends the session with `DELETE`.
//!
//! ```text
//! cargo run --example whip_client -- http://127.0.0.1:8080/whip [--token T] [--message TEXT]... [--udp ADDR]
//! ```
//!
//! The echo server (`cargo run --release --example echo_server -- --http 127.0.0.1:8080`) is such an
//! endpoint and echoes every message. The offer carries every candidate (gathering is complete before it
//! is sent), so no trickle (`PATCH`) is needed. Plain `http://` only: an `https://` endpoint needs a TLS
//! client, which this example does not bring. `--token` sends `Authorization: Bearer T` on the POST and
//! the DELETE (RFC 9725 §4.5). `SANSRTC_LOG` selects log lines (see `examples/support/log.rs`).

use core::net::SocketAddr;
use core::time::Duration;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};

use sansrtc::pc::{ChannelOptions, Config, ConnectionState, Description, Event, PeerConnection};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

/// How long to wait for the connection, each echo, and the end of the session.
const TIMEOUT: Duration = Duration::from_secs(20);
/// The largest HTTP response taken (an SDP answer is a few KiB).
const MAX_RESPONSE: u64 = 256 * 1024;

/// What to publish, and where.
#[derive(Clone, Debug)]
pub struct Options {
    /// The WHIP endpoint, `http://HOST:PORT/PATH`.
    pub endpoint: String,
    /// A bearer token for the endpoint and the session.
    pub token: Option<String>,
    /// The messages sent on the channel, in order, once it is open.
    pub messages: Vec<String>,
    /// The local UDP socket to bind (default: the address that reaches the endpoint's host, any port).
    pub udp: Option<SocketAddr>,
    /// The seed of the connection's randomness (default: from the OS).
    pub seed: Option<[u8; 32]>,
}

/// How a publication went.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The session URL the endpoint gave in `Location`, resolved against the endpoint.
    pub session_url: String,
    /// The messages that came back on the channel, in order.
    pub received: Vec<String>,
    /// The status of the `DELETE`.
    pub delete_status: u16,
    /// Whether the connection reached `closed` after the `DELETE` (the server ended its side).
    pub closed_by_server: bool,
}

/// A parsed `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Url {
    /// `host:port` as written (port 80 added when absent).
    authority: String,
    /// The path and query, starting with `/`.
    path: String,
}

impl Url {
    fn parse(url: &str) -> Result<Url, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// endpoints are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        let authority = if has_port { authority.to_string() } else { format!("{authority}:80") };
        Ok(Url { authority, path: path.to_string() })
    }

    /// `Location` resolved against this URL: absolute, absolute-path or relative (RFC 3986 §5.2).
    fn join(&self, location: &str) -> Result<Url, String> {
        if location.starts_with("http://") {
            Url::parse(location)
        } else if location.starts_with('/') {
            Ok(Url { authority: self.authority.clone(), path: location.to_string() })
        } else if location.contains("://") {
            Err(format!("{location}: only http:// sessions are supported"))
        } else {
            let dir = &self.path[..self.path.rfind('/').map_or(0, |i| i + 1)];
            Ok(Url { authority: self.authority.clone(), path: format!("{dir}{location}") })
        }
    }

    fn addr(&self) -> Result<SocketAddr, String> {
        let mut addrs = self.authority.to_socket_addrs().map_err(|e| format!("{}: {e}", self.authority))?;
        addrs.next().ok_or_else(|| format!("{}: no address", self.authority))
    }
}

impl core::fmt::Display for Url {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "http://{}{}", self.authority, self.path)
    }
}

/// An HTTP response: status, header fields, body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a connection of its own (`Connection: close`).
fn http(
    method: &str,
    url: &Url,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Result<Response, String> {
    let io = |e: std::io::Error| format!("{method} {url}: {e}");
    let mut stream = TcpStream::connect_timeout(&url.addr()?, TIMEOUT).map_err(io)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    let mut head = format!("{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", url.path, url.authority);
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(body.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream.take(MAX_RESPONSE).read_to_end(&mut raw).map_err(io)?;
    let raw = String::from_utf8(raw).map_err(|_| format!("{method} {url}: a response that is not UTF-8"))?;
    let (head, body) = raw.split_once("\r\n\r\n").ok_or_else(|| format!("{method} {url}: no complete response"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{method} {url}: no status line"))?;
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().into(), v.trim().into())).collect();
    let response = Response { status, headers, body: body.to_string() };
    // The body ends where Content-Length says, when it says.
    let len = response.header("Content-Length").and_then(|l| l.parse::<usize>().ok());
    Ok(match len {
        Some(len) if len <= response.body.len() => Response { body: response.body[..len].to_string(), ..response },
        _ => response,
    })
}

/// The local address that reaches `remote` (the kernel's route choice; nothing is sent).
fn local_ip_towards(remote: SocketAddr) -> Result<core::net::IpAddr, String> {
    let any: SocketAddr = if remote.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().map_err(|_| "address")?;
    let probe = UdpSocket::bind(any).map_err(|e| e.to_string())?;
    probe.connect(remote).map_err(|e| e.to_string())?;
    Ok(probe.local_addr().map_err(|e| e.to_string())?.ip())
}

/// The client: one peer connection on one UDP socket, driven by the README loop.
struct Client {
    pc: PeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    clock: StdAnchor,
    buf: Vec<u8>,
}

impl Client {
    /// Feeds what arrived (waiting at most until the next deadline), fires timers, sends, and returns
    /// the events.
    fn turn(&mut self) -> Result<Vec<Event>, String> {
        let now = self.clock.now();
        let wait = self.pc.poll_timeout().map_or(Duration::from_millis(50), |t| t.saturating_duration_since(now));
        self.socket.set_read_timeout(Some(wait.clamp(Duration::from_micros(100), Duration::from_millis(50)))).ok();
        if let Ok((n, source)) = self.socket.recv_from(&mut self.buf) {
            let datagram = Datagram { source, destination: self.local, contents: &self.buf[..n] };
            let _ = self.pc.handle_receive(self.clock.now(), datagram);
        }
        let now = self.clock.now();
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            self.pc.handle_timeout(now);
        }
        while let Some(t) = self.pc.poll_transmit() {
            // A lost datagram is the network's business: retransmission timers cover it.
            let _ = self.socket.send_to(t.contents, t.destination);
        }
        Ok(core::iter::from_fn(|| self.pc.poll_event()).collect())
    }

    /// Runs turns until `done` says so for an event, or fails after [`TIMEOUT`].
    fn until(&mut self, what: &str, mut done: impl FnMut(&mut PeerConnection, Event) -> bool) -> Result<(), String> {
        let start = std::time::Instant::now();
        while start.elapsed() < TIMEOUT {
            for event in self.turn()? {
                if let Event::ConnectionState(ConnectionState::Failed) = event {
                    return Err(format!("the connection failed while waiting for {what}"));
                }
                if done(&mut self.pc, event) {
                    return Ok(());
                }
            }
        }
        Err(format!("timed out waiting for {what}"))
    }
}

/// Publishes a data channel to the endpoint, sends the messages, waits for each one back (an echo
/// endpoint) and deletes the session.
pub fn publish(options: &Options) -> Result<Outcome, String> {
    let endpoint = Url::parse(&options.endpoint)?;
    let udp = match options.udp {
        Some(udp) => udp,
        None => SocketAddr::new(local_ip_towards(endpoint.addr()?)?, 0),
    };
    let socket = UdpSocket::bind(udp).map_err(|e| format!("bind {udp}: {e}"))?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let rng = match options.seed {
        Some(seed) => SeededRng::from_seed(seed),
        None => SeededRng::from_os().map_err(|e| e.to_string())?,
    };
    let clock = StdAnchor::starting_now();
    let mut pc = PeerConnection::new(Config::default(), rng);
    let now = clock.now();
    let err = |e: sansrtc::pc::Error| e.to_string();
    pc.add_local_host(now, local).map_err(err)?;
    pc.end_of_local_candidates(now);
    let channel = pc.create_data_channel(now, ChannelOptions::new("whip")).map_err(err)?;
    let offer = pc.create_offer().map_err(err)?;
    pc.set_local_description(now, &offer).map_err(err)?;

    // RFC 9725 §4.2: POST the offer; 201 Created carries the answer and the session URL.
    let token = options.token.as_deref();
    let reply = http("POST", &endpoint, token, Some("application/sdp"), &offer.sdp)?;
    if reply.status != 201 {
        return Err(format!("POST {endpoint}: {} {}", reply.status, reply.body.trim()));
    }
    if reply.header("Content-Type").is_none_or(|ct| !ct.starts_with("application/sdp")) {
        return Err(format!("POST {endpoint}: the answer is not application/sdp"));
    }
    let location = reply.header("Location").ok_or_else(|| format!("POST {endpoint}: 201 without a Location"))?;
    let session = endpoint.join(location)?;
    println!("whip: session {session}");
    let mut client = Client { pc, socket, local, clock, buf: vec![0; 2048] };
    client.pc.set_remote_description(client.clock.now(), &Description::answer(&reply.body)).map_err(err)?;

    let mut outcome = Outcome { session_url: session.to_string(), ..Outcome::default() };
    client.until("the channel to open", |_, e| e == Event::ChannelOpen(channel))?;
    println!("whip: channel open");
    for message in &options.messages {
        client.pc.send_text(client.clock.now(), channel, message).map_err(err)?;
        let mut echo = None;
        client.until("an echo", |_, e| match e {
            Event::Message { id, data, .. } if id == channel => {
                echo = Some(String::from_utf8_lossy(&data).into_owned());
                true
            }
            _ => false,
        })?;
        let echo = echo.unwrap_or_default();
        println!("whip: sent {message:?}, received {echo:?}");
        outcome.received.push(echo);
    }

    // RFC 9725 §4.3: DELETE on the session URL ends it; the server closes its connection.
    let reply = http("DELETE", &session, token, None, "")?;
    outcome.delete_status = reply.status;
    println!("whip: DELETE {session}: {}", reply.status);
    if reply.status == 200 {
        let closed = client.until("the server to close", |_, e| e == Event::ConnectionState(ConnectionState::Closed));
        outcome.closed_by_server = closed.is_ok();
    }
    client.pc.close(client.clock.now());
    while let Some(t) = client.pc.poll_transmit() {
        let _ = client.socket.send_to(t.contents, t.destination);
    }
    Ok(outcome)
}

/// Parses the command line (the program name first).
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let usage = "usage: whip_client URL [--token T] [--message TEXT]... [--udp ADDR] [--seed N]";
    let mut args = args.into_iter().skip(1);
    let mut options = Options { endpoint: String::new(), token: None, messages: Vec::new(), udp: None, seed: None };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value; {usage}"));
        match arg.as_str() {
            "--token" => options.token = Some(value()?),
            "--message" => options.messages.push(value()?),
            "--udp" => options.udp = Some(value()?.parse().map_err(|_| format!("bad --udp address; {usage}"))?),
            "--seed" => {
                let n: u8 = value()?.parse().map_err(|_| format!("--seed takes 0 to 255; {usage}"))?;
                options.seed = Some([n; 32]);
            }
            url if !url.starts_with("--") && options.endpoint.is_empty() => options.endpoint = url.to_string(),
            _ => return Err(usage.to_string()),
        }
    }
    if options.endpoint.is_empty() {
        return Err(usage.to_string());
    }
    if options.messages.is_empty() {
        options.messages.push("hello from sansrtc".into());
    }
    Ok(options)
}

/// Runs the client on the process's arguments; the exit status is 0 when every message came back
/// intact and the session ended.
pub fn main() {
    log::init();
    let options = parse_args(std::env::args()).unwrap_or_else(|e| fail(&e));
    match publish(&options) {
        Ok(outcome) if outcome.received == options.messages && outcome.delete_status == 200 => {
            if outcome.closed_by_server {
                println!("whip: the server closed the connection");
            }
            println!("whip: done, {} messages echoed", outcome.received.len());
        }
        Ok(outcome) => fail(&format!("incomplete: {outcome:?}")),
        Err(e) => fail(&e),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("whip_client: {msg}");
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::Url;

    #[test]
    fn location_resolves_against_the_endpoint() {
        let endpoint = Url::parse("http://example.org/api/whip").unwrap();
        assert_eq!(endpoint.authority, "example.org:80");
        assert_eq!(endpoint.join("/api/whip/abc").unwrap().to_string(), "http://example.org:80/api/whip/abc");
        assert_eq!(endpoint.join("session/1").unwrap().to_string(), "http://example.org:80/api/session/1");
        assert_eq!(endpoint.join("http://10.0.0.1:81/s").unwrap().to_string(), "http://10.0.0.1:81/s");
        assert!(endpoint.join("https://x/s").is_err());
        assert!(Url::parse("https://example.org/whip").is_err());
    }
}
