//! The echo server behind `examples/echo_server.rs` and `tests/chromium.rs`: an HTTP signalling endpoint
//! on a thread and one UDP socket, driven by one thread, for every peer connection (in TURN mode, a
//! socket per peer connection: see [`peers`]).

extern crate alloc;

use alloc::sync::Arc;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::io;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

#[path = "http.rs"]
mod http;
#[path = "peers.rs"]
pub mod peers;

use http::{Request, Response};

/// The test page served at `GET /`.
pub const PAGE: &str = include_str!("page.html");

/// A request from the HTTP thread to the UDP thread: an SDP offer and where to send the answer.
pub struct OfferRequest {
    /// The offer's SDP text.
    pub sdp: String,
    /// Receives the answer's SDP text or an error message.
    pub reply: Sender<Result<String, String>>,
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
}

impl Server {
    /// Binds both sockets and starts the threads, the UDP one running [`peers::run`].
    pub fn start(config: &Config) -> io::Result<Server> {
        Server::start_with(config, |socket, offers, stop| peers::run(socket, offers, &stop))
    }

    /// Like [`Server::start`], in TURN mode when `turn` is given: every peer connection allocates a relayed
    /// address from a socket of its own (see [`peers`]).
    pub fn start_with_turn(config: &Config, turn: Option<peers::TurnOptions>) -> io::Result<Server> {
        Server::start_with(config, move |socket, offers, stop| peers::run_with_turn(socket, offers, &stop, turn))
    }

    /// Like [`Server::start`], with another driver for the UDP socket (`examples/tokio_echo.rs`). It runs
    /// on its own thread until `stop` is set; a zero-length datagram on the socket means "look at the
    /// offers and the stop flag".
    pub fn start_with<F>(config: &Config, udp_loop: F) -> io::Result<Server>
    where
        F: FnOnce(UdpSocket, Receiver<OfferRequest>, Arc<AtomicBool>) -> io::Result<()> + Send + 'static,
    {
        let listener = TcpListener::bind(config.http)?;
        let http_addr = listener.local_addr()?;
        let udp_bind = config.udp.unwrap_or_else(|| SocketAddr::new(http_addr.ip(), 0));
        let socket = UdpSocket::bind(udp_bind)?;
        let udp_addr = socket.local_addr()?;
        let waker = UdpSocket::bind(SocketAddr::new(wake_ip(udp_addr), 0))?;
        let stop = Arc::new(AtomicBool::new(false));
        let (offer_tx, offer_rx) = channel::<OfferRequest>();
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
        threads.push(std::thread::Builder::new().name("http".into()).spawn(move || {
            let handler = move |req: Request| handle(req, &offer_tx, &report_tx, &wake, udp_addr);
            http::serve(listener, move || stop_http.load(Ordering::Relaxed), handler);
        })?);
        println!("echo server: http://{http_addr}/  udp {udp_addr}");
        Ok(Server { http_addr, udp_addr, stop, waker, reports, threads })
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
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

fn handle(
    req: Request,
    offers: &Sender<OfferRequest>,
    reports: &Sender<String>,
    wake: &UdpSocket,
    udp_addr: SocketAddr,
) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/") | ("GET", "/index.html") => {
            Response { status: "200 OK", content_type: "text/html; charset=utf-8", body: PAGE.as_bytes().to_vec() }
        }
        ("POST", "/offer") => {
            let is_sdp = req.content_type.as_deref().is_some_and(|t| t.starts_with("application/sdp"));
            if !is_sdp {
                return Response::text("415 Unsupported Media Type", "POST /offer takes application/sdp\n");
            }
            let Ok(sdp) = String::from_utf8(req.body) else {
                return Response::text("400 Bad Request", "offer is not UTF-8\n");
            };
            let (reply, answer) = channel();
            if offers.send(OfferRequest { sdp, reply }).is_err() {
                return Response::text("503 Service Unavailable", "shutting down\n");
            }
            // A zero-length datagram wakes the UDP thread, which owns every peer connection.
            let _ = wake.send_to(&[], udp_addr);
            match answer.recv_timeout(Duration::from_secs(10)) {
                Ok(Ok(sdp)) => {
                    Response { status: "201 Created", content_type: "application/sdp", body: sdp.into_bytes() }
                }
                Ok(Err(e)) => Response::text("400 Bad Request", format!("{e}\n")),
                Err(_) => Response::text("503 Service Unavailable", "no answer\n"),
            }
        }
        ("POST", "/report") => {
            let line = String::from_utf8_lossy(&req.body).replace('\n', " ");
            println!("report: {line}");
            let _ = reports.send(line);
            Response::text("204 No Content", "")
        }
        _ => Response::text("404 Not Found", "not found\n"),
    }
}
