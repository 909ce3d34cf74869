//! The echo server behind `examples/echo_server.rs` and the browser tests: an HTTP signalling endpoint
//! on a thread and one UDP socket, driven by one thread, for every peer connection (in TURN mode, a
//! socket per peer connection: see [`peers`]).
//!
//! HTTP endpoints:
//!
//! - `GET /`: the test page (`/?media`: with camera and microphone); `POST /offer` (`application/sdp`):
//!   `201 Created` with the answer;
//!   `POST /report`: the page's results, printed;
//! - `GET /stats`: the W3C statistics of every live connection and the UDP socket's receive buffer and
//!   drops (see [`udp`]), as JSON (needs the `serde` feature);
//! - WHIP (RFC 9725) and WHEP: `POST /whip` or `/whep` with an `application/sdp` offer: `201 Created`
//!   with the answer and the session's URL in `Location` (`/whip/<session>`), plus a
//!   `Link: <turn:…>; rel="ice-server"` per configured ICE server; `DELETE` on the session URL closes the
//!   connection and frees it; `PATCH` (trickle ICE, ICE restart) is answered `405 Method Not Allowed`
//!   once the session and the `application/trickle-ice-sdpfrag` body check out; `GET` answers
//!   `204 No Content`; `OPTIONS` answers CORS preflights and says `Accept-Post: application/sdp`.
//!   With a bearer token ([`HttpOptions::token`]) the WHIP/WHEP endpoints and `/stats` answer
//!   `401 Unauthorized` to requests without `Authorization: Bearer <token>` (preflights excepted).
//!
//! Every response carries `Access-Control-Allow-Origin: *` (and exposes `Location` and `Link`), so a page
//! on another origin can use the endpoints.

extern crate alloc;

use alloc::sync::Arc;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::io;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

#[path = "conn.rs"]
pub mod conn;
#[path = "http.rs"]
mod http;
#[path = "media.rs"]
pub mod media;
#[path = "peers.rs"]
pub mod peers;
#[path = "tcp.rs"]
pub mod tcp;
#[path = "udp.rs"]
pub mod udp;

use http::{Request, Response};

/// The test page served at `GET /`.
pub const PAGE: &str = include_str!("page.html");

/// Largest SDP offer or fragment accepted (a larger body is answered `413 Content Too Large`).
pub const MAX_SDP: usize = 64 * 1024;

/// A request from the HTTP thread to the UDP thread, which owns every peer connection.
pub enum Command {
    /// A new connection for an SDP offer.
    Offer(OfferRequest),
    /// The statistics of every live connection, as JSON (`Err` when they cannot be written).
    Stats(Sender<Result<String, String>>),
    /// Close and forget the connection of a session; the reply says whether there was one.
    Delete {
        /// The session (the last segment of its URL).
        session: String,
        /// Whether it existed.
        reply: Sender<bool>,
    },
    /// Whether a session exists.
    Exists {
        /// The session.
        session: String,
        /// Whether it exists.
        reply: Sender<bool>,
    },
}

/// An SDP offer and where to send the answer.
pub struct OfferRequest {
    /// The offer's SDP text.
    pub sdp: String,
    /// Receives the answer or why there is none.
    pub reply: Sender<Result<Answer, Refused>>,
}

/// An answer to an offer.
pub struct Answer {
    /// The answer's SDP text.
    pub sdp: String,
    /// The session it opened: the last segment of its WHIP/WHEP URL.
    pub session: String,
}

/// Why an offer got no answer.
#[derive(Debug)]
pub enum Refused {
    /// The offer cannot be answered (malformed, or not what this server speaks): `400 Bad Request`.
    BadOffer(String),
    /// The server is full or cannot open a socket: `503 Service Unavailable`.
    Busy(String),
}

impl Refused {
    fn response(self) -> Response {
        match self {
            Refused::BadOffer(e) => Response::text("400 Bad Request", format!("{e}\n")),
            Refused::Busy(e) => {
                Response::text("503 Service Unavailable", format!("{e}\n")).with_header("Retry-After", "5")
            }
        }
    }
}

/// An ICE server to tell WHIP/WHEP clients about (a `Link: <url>; rel="ice-server"` header, RFC 9725
/// §4.6).
#[derive(Clone, Debug)]
pub struct IceServer {
    /// `stun:` or `turn:` URL.
    pub url: String,
    /// TURN username and password (long-term credentials).
    pub credentials: Option<(String, String)>,
}

impl IceServer {
    /// The `Link` header value.
    pub fn link(&self) -> String {
        let quote = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
        let mut link = format!("<{}>; rel=\"ice-server\"", self.url);
        if let Some((username, credential)) = &self.credentials {
            link.push_str(&format!(
                "; username=\"{}\"; credential=\"{}\"; credential-type=\"password\"",
                quote(username),
                quote(credential)
            ));
        }
        link
    }
}

/// What the HTTP side offers besides the defaults.
#[derive(Clone, Debug, Default)]
pub struct HttpOptions {
    /// A bearer token the WHIP/WHEP endpoints and `/stats` require (`Authorization: Bearer <token>`).
    pub token: Option<String>,
    /// ICE servers announced to WHIP/WHEP clients.
    pub ice_servers: Vec<IceServer>,
}

/// Where to listen.
pub struct Config {
    /// The HTTP signalling address.
    pub http: SocketAddr,
    /// The UDP socket for every peer connection (default: the HTTP address's IP, any port).
    pub udp: Option<SocketAddr>,
}

/// A running server; stops (and joins its threads) on [`Server::shutdown`] or drop.
pub struct Server {
    http_addr: SocketAddr,
    udp_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: UdpSocket,
    reports: Receiver<String>,
    threads: Vec<JoinHandle<()>>,
    socket_stats: Arc<udp::SocketStats>,
}

impl Server {
    /// Binds both sockets and starts the threads, the UDP one running [`peers::run`].
    pub fn start(config: &Config) -> io::Result<Server> {
        Server::start_with_turn(config, None)
    }

    /// Like [`Server::start`], in TURN mode when `turn` is given: every peer connection allocates a relayed
    /// address from a socket of its own (see [`peers`]).
    pub fn start_with_turn(config: &Config, turn: Option<peers::TurnOptions>) -> io::Result<Server> {
        Server::start_with_options(config, &HttpOptions::default(), turn)
    }

    /// Like [`Server::start_with_turn`], with HTTP options (a bearer token, ICE servers to announce).
    pub fn start_with_options(
        config: &Config,
        options: &HttpOptions,
        turn: Option<peers::TurnOptions>,
    ) -> io::Result<Server> {
        Server::start_recording(config, options, turn, None)
    }

    /// Like [`Server::start_with_options`], journaling every peer connection into the directory `record`
    /// when it is given (`--record DIR`).
    pub fn start_recording(
        config: &Config,
        options: &HttpOptions,
        turn: Option<peers::TurnOptions>,
        record: Option<std::path::PathBuf>,
    ) -> io::Result<Server> {
        let peer_options = peers::PeerOptions { record, ..peers::PeerOptions::default() };
        Server::start_with_peer_options(config, options, turn, peer_options)
    }

    /// Like [`Server::start_with_options`], with [`peers::PeerOptions`]: journaling every peer connection
    /// (`--record DIR`), full ICE (`--full-ice`), the DTLS versions and role (`--dtls`, `--dtls-role`).
    pub fn start_with_peer_options(
        config: &Config,
        options: &HttpOptions,
        turn: Option<peers::TurnOptions>,
        peer_options: peers::PeerOptions,
    ) -> io::Result<Server> {
        let socket_stats = Arc::new(udp::SocketStats::default());
        let counted = socket_stats.clone();
        // `--tcp`: bound here, so that a port 0 is known before the connections' thread starts.
        let tcp = match peer_options.tcp {
            Some(addr) if turn.is_none() => Some(TcpListener::bind(addr)?),
            _ => None,
        };
        let tcp_addr = tcp.as_ref().map(TcpListener::local_addr).transpose()?;
        let server = Server::start_counting(config, options, socket_stats, move |socket, commands, stop| {
            peers::run_recording(socket, commands, &stop, turn, peer_options, counted, tcp)
        })?;
        if let Some(addr) = tcp_addr {
            println!("tcp: ICE-TCP passive candidate {addr}");
        }
        Ok(server)
    }

    /// Like [`Server::start`], with another driver for the UDP socket (`examples/tokio_echo.rs`). It runs
    /// on its own thread until `stop` is set; a zero-length datagram on the socket means "look at the
    /// offers and the stop flag".
    pub fn start_with<F>(config: &Config, udp_loop: F) -> io::Result<Server>
    where
        F: FnOnce(UdpSocket, Receiver<Command>, Arc<AtomicBool>) -> io::Result<()> + Send + 'static,
    {
        Server::start_full(config, &HttpOptions::default(), udp_loop)
    }

    /// [`Server::start_with`] with HTTP options.
    pub fn start_full<F>(config: &Config, options: &HttpOptions, udp_loop: F) -> io::Result<Server>
    where
        F: FnOnce(UdpSocket, Receiver<Command>, Arc<AtomicBool>) -> io::Result<()> + Send + 'static,
    {
        Server::start_counting(config, options, Arc::default(), udp_loop)
    }

    /// [`Server::start_full`], the socket's figures in `socket_stats`: its receive buffer, set up here
    /// ([`udp::setup`]), and its drops, which the UDP loop counts (or not).
    fn start_counting<F>(
        config: &Config,
        options: &HttpOptions,
        socket_stats: Arc<udp::SocketStats>,
        udp_loop: F,
    ) -> io::Result<Server>
    where
        F: FnOnce(UdpSocket, Receiver<Command>, Arc<AtomicBool>) -> io::Result<()> + Send + 'static,
    {
        let listener = TcpListener::bind(config.http)?;
        let http_addr = listener.local_addr()?;
        let udp_bind = config.udp.unwrap_or_else(|| SocketAddr::new(http_addr.ip(), 0));
        let socket = UdpSocket::bind(udp_bind)?;
        let socket_problems = udp::setup(&socket, udp::RECEIVE_BUFFER, &socket_stats);
        let udp_addr = socket.local_addr()?;
        let waker = UdpSocket::bind(SocketAddr::new(wake_ip(udp_addr), 0))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (offer_tx, offer_rx) = channel::<Command>();
        let (report_tx, reports) = channel::<String>();

        let mut threads = Vec::new();
        let stop_udp = stop.clone();
        threads.push(std::thread::Builder::new().name("udp".into()).spawn(move || {
            if let Err(e) = udp_loop(socket, offer_rx, stop_udp) {
                println!("udp loop failed: {e}");
            }
        })?);
        let stop_http = stop.clone();
        let wake = Arc::new(waker.try_clone()?);
        let options = Arc::new(options.clone());
        threads.push(std::thread::Builder::new().name("http".into()).spawn(move || {
            let handler = move |req: Request| {
                let to_udp = ToUdp { commands: &offer_tx, wake: &wake, udp_addr };
                cors(handle(req, &to_udp, &report_tx, &options))
            };
            http::serve(listener, move || stop_http.load(Ordering::Relaxed), handler);
        })?);
        println!("echo server: http://{http_addr}/  udp {udp_addr}");
        println!(
            "udp: receive buffer {} bytes (asked for {}; capped by the system, reported doubled by Linux)",
            socket_stats.receive_buffer(),
            udp::RECEIVE_BUFFER
        );
        for problem in socket_problems {
            println!("udp: {problem}");
        }
        Ok(Server { http_addr, udp_addr, stop, waker, reports, threads, socket_stats })
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The UDP socket's receive buffer, in bytes, as the kernel reports it (on Linux twice the data it
    /// holds).
    pub fn receive_buffer(&self) -> usize {
        self.socket_stats.receive_buffer()
    }

    /// Datagrams the UDP socket dropped because its receive buffer was full, as of the last one received;
    /// `None` where they are not counted (not Linux, or a UDP loop of its own: [`Server::start_with`]).
    pub fn receive_drops(&self) -> Option<u32> {
        self.socket_stats.drops()
    }

    /// The JSON bodies POSTed to `/report`, in order.
    pub fn reports(&self) -> &Receiver<String> {
        &self.reports
    }

    /// Stops both threads and waits for them.
    pub fn shutdown(&mut self) {
        if self.stop.swap(true, Ordering::Relaxed) {
            return;
        }
        // Unblock the UDP thread's receive and the HTTP thread's accept.
        let _ = self.waker.send_to(&[], self.udp_addr);
        let _ = TcpStream::connect_timeout(&self.http_addr, Duration::from_secs(1));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        println!("echo server: stopped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The address to send wake-up datagrams from: loopback when the socket listens on every address.
fn wake_ip(udp: SocketAddr) -> IpAddr {
    match udp.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    }
}

/// The way to the UDP thread: a command, then a zero-length datagram to wake it.
struct ToUdp<'a> {
    commands: &'a Sender<Command>,
    wake: &'a UdpSocket,
    udp_addr: SocketAddr,
}

impl ToUdp<'_> {
    /// Sends the command made with a reply channel, wakes the UDP thread, waits for the reply.
    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Command) -> Result<T, Response> {
        let (reply, answer) = channel();
        if self.commands.send(make(reply)).is_err() {
            return Err(Response::text("503 Service Unavailable", "shutting down\n"));
        }
        let _ = self.wake.send_to(&[], self.udp_addr);
        answer
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| Response::text("503 Service Unavailable", "no answer\n"))
    }
}

/// CORS (WHATWG Fetch): every response may be read by a page of any origin, `Location` and `Link`
/// included.
fn cors(resp: Response) -> Response {
    resp.with_header("Access-Control-Allow-Origin", "*")
        .with_header("Access-Control-Expose-Headers", "Location, Link, ETag, Accept-Post")
}

/// The WHIP/WHEP endpoint a path names (`/whip`, `/whep`) and the session after it, if any.
fn whip_path(path: &str) -> Option<(&'static str, Option<&str>)> {
    let path = path.split('?').next().unwrap_or(path);
    for endpoint in ["/whip", "/whep"] {
        if path == endpoint {
            return Some((endpoint, None));
        }
        if let Some(rest) = path.strip_prefix(endpoint).and_then(|r| r.strip_prefix('/')) {
            return Some((endpoint, Some(rest)));
        }
    }
    None
}

/// Whether the request carries the bearer token, when one is required (RFC 6750 §2.1).
fn authorized(req: &Request, options: &HttpOptions) -> bool {
    let Some(token) = &options.token else { return true };
    let Some(value) = req.header("authorization") else { return false };
    let Some((scheme, given)) = value.split_once(' ') else { return false };
    scheme.eq_ignore_ascii_case("bearer") && given.trim() == token
}

fn unauthorized() -> Response {
    Response::text("401 Unauthorized", "a bearer token is required\n").with_header("WWW-Authenticate", "Bearer")
}

/// An SDP offer from a POST body: `application/sdp`, at most [`MAX_SDP`] bytes, UTF-8.
fn sdp_body(req: Request, what: &str) -> Result<String, Response> {
    if !req.has_content_type("application/sdp") {
        return Err(Response::text("415 Unsupported Media Type", format!("{what} takes application/sdp\n")));
    }
    if req.body.len() > MAX_SDP {
        return Err(Response::text("413 Content Too Large", format!("an offer is at most {MAX_SDP} bytes\n")));
    }
    String::from_utf8(req.body).map_err(|_| Response::text("400 Bad Request", "offer is not UTF-8\n"))
}

fn offer(to_udp: &ToUdp<'_>, sdp: String) -> Result<Answer, Response> {
    to_udp.ask(|reply| Command::Offer(OfferRequest { sdp, reply }))?.map_err(Refused::response)
}

/// Checks a trickle ICE fragment (RFC 8840 §9): UTF-8 lines of `a=` and `m=` only, candidates that
/// parse, non-empty ICE credentials.
fn check_sdpfrag(body: &[u8]) -> Result<(), String> {
    let text = core::str::from_utf8(body).map_err(|_| "the fragment is not UTF-8".to_string())?;
    let mut lines = 0;
    for line in text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        if line.is_empty() {
            continue;
        }
        lines += 1;
        let (kind, value) = line.split_once('=').ok_or_else(|| format!("not an SDP line: {line:?}"))?;
        match kind {
            "m" if !value.is_empty() => {}
            "a" => {
                let (name, attr) = value.split_once(':').unwrap_or((value, ""));
                match name {
                    "candidate" => {
                        sansrtc::sdp::CandidateAttribute::parse(attr)
                            .map_err(|e| format!("bad candidate {attr:?}: {e:?}"))?;
                    }
                    "ice-ufrag" | "ice-pwd" | "mid" if attr.is_empty() => {
                        return Err(format!("empty a={name}"));
                    }
                    _ if name.is_empty() => return Err(format!("empty attribute: {line:?}")),
                    _ => {}
                }
            }
            _ => return Err(format!("a fragment has only a= and m= lines: {line:?}")),
        }
    }
    if lines == 0 {
        return Err("empty fragment".to_string());
    }
    Ok(())
}

/// A session id as this server makes them: 32 lower-case hex digits.
fn is_session_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn whip(
    req: Request,
    endpoint: &'static str,
    session: Option<&str>,
    to_udp: &ToUdp<'_>,
    options: &HttpOptions,
) -> Response {
    if req.method == "OPTIONS" {
        // A CORS preflight (no token needed) or a client asking what the endpoint takes.
        let allow = if session.is_some() { "OPTIONS, GET, PATCH, DELETE" } else { "OPTIONS, GET, POST" };
        return Response::new("200 OK", "text/plain; charset=utf-8", Vec::new())
            .with_header("Allow", allow)
            .with_header("Accept-Post", "application/sdp")
            .with_header("Access-Control-Allow-Methods", "OPTIONS, GET, POST, PATCH, DELETE")
            .with_header("Access-Control-Allow-Headers", "Content-Type, Authorization, If-Match")
            .with_header("Access-Control-Max-Age", "600");
    }
    if !authorized(&req, options) {
        return unauthorized();
    }
    let known = |session: &str| {
        let session = session.to_string();
        is_session_id(&session) && to_udp.ask(|reply| Command::Exists { session, reply }).unwrap_or(false)
    };
    match (req.method.as_str(), session) {
        // RFC 9725 §4.1: the resources have no representation; GET is answered with no content.
        ("GET", None) => Response::text("204 No Content", ""),
        ("GET", Some(s)) if known(s) => Response::text("204 No Content", ""),
        ("POST", None) => {
            let sdp = match sdp_body(req, endpoint) {
                Ok(sdp) => sdp,
                Err(resp) => return resp,
            };
            match offer(to_udp, sdp) {
                Ok(answer) => {
                    let mut resp = Response::new("201 Created", "application/sdp", answer.sdp.into_bytes())
                        .with_header("Location", format!("{endpoint}/{}", answer.session));
                    for server in &options.ice_servers {
                        resp = resp.with_header("Link", server.link());
                    }
                    resp
                }
                Err(resp) => resp,
            }
        }
        ("DELETE", Some(s)) if is_session_id(s) => {
            let session = s.to_string();
            match to_udp.ask(|reply| Command::Delete { session, reply }) {
                Ok(true) => Response::text("200 OK", ""),
                Ok(false) => Response::text("404 Not Found", "no such session\n"),
                Err(resp) => resp,
            }
        }
        ("PATCH", Some(s)) if known(s) => {
            if !req.has_content_type("application/trickle-ice-sdpfrag") {
                return Response::text("415 Unsupported Media Type", "PATCH takes application/trickle-ice-sdpfrag\n");
            }
            if req.body.len() > MAX_SDP {
                return Response::text("413 Content Too Large", format!("a fragment is at most {MAX_SDP} bytes\n"));
            }
            if let Err(e) = check_sdpfrag(&req.body) {
                return Response::text("400 Bad Request", format!("{e}\n"));
            }
            // Trickle ICE and ICE restarts through PATCH are not supported yet: the answer carries every
            // candidate of the server, and the client's must be in its offer.
            Response::text("405 Method Not Allowed", "trickle ICE and ICE restarts are not supported\n")
                .with_header("Allow", "OPTIONS, GET, DELETE")
        }
        ("GET" | "DELETE" | "PATCH", Some(_)) => Response::text("404 Not Found", "no such session\n"),
        (_, None) => Response::text("405 Method Not Allowed", "").with_header("Allow", "OPTIONS, GET, POST"),
        (_, Some(_)) => {
            Response::text("405 Method Not Allowed", "").with_header("Allow", "OPTIONS, GET, PATCH, DELETE")
        }
    }
}

fn handle(req: Request, to_udp: &ToUdp<'_>, reports: &Sender<String>, options: &HttpOptions) -> Response {
    if let Some((endpoint, session)) = whip_path(&req.path) {
        let session = session.map(str::to_string);
        return whip(req, endpoint, session.as_deref(), to_udp, options);
    }
    // The page takes its mode from the query (`/?media`).
    let path = req.path.split('?').next().unwrap_or_default();
    match (req.method.as_str(), path) {
        ("GET", "/") | ("GET", "/index.html") => {
            Response::new("200 OK", "text/html; charset=utf-8", PAGE.as_bytes().to_vec())
        }
        ("POST", "/offer") => {
            let sdp = match sdp_body(req, "POST /offer") {
                Ok(sdp) => sdp,
                Err(resp) => return resp,
            };
            match offer(to_udp, sdp) {
                Ok(answer) => Response::new("201 Created", "application/sdp", answer.sdp.into_bytes()),
                Err(resp) => resp,
            }
        }
        ("POST", "/report") => {
            let line = String::from_utf8_lossy(&req.body).replace('\n', " ");
            println!("report: {line}");
            let _ = reports.send(line);
            Response::text("204 No Content", "")
        }
        ("GET", "/stats") => {
            if !authorized(&req, options) {
                return unauthorized();
            }
            match to_udp.ask(Command::Stats) {
                Ok(Ok(json)) => Response::new("200 OK", "application/json", json.into_bytes()),
                Ok(Err(e)) => Response::text("501 Not Implemented", format!("{e}\n")),
                Err(resp) => resp,
            }
        }
        ("OPTIONS", _) => Response::new("200 OK", "text/plain; charset=utf-8", Vec::new())
            .with_header("Access-Control-Allow-Methods", "OPTIONS, GET, POST")
            .with_header("Access-Control-Allow-Headers", "Content-Type, Authorization"),
        _ => Response::text("404 Not Found", "not found\n"),
    }
}
