//! The signalling the examples share: `POST /offer` with an `application/sdp` body, handed from the HTTP
//! thread to the thread that runs the peer connection, and answered `201 Created` with the answer (or an
//! error status). The HTTP thread wakes the connection's thread with a zero-length datagram on its UDP
//! socket, so that thread can sleep in `recv_from` until the connection's next deadline.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;
use std::net::UdpSocket;
use std::sync::mpsc::{Sender, channel};

use super::http::{Request, Response};

/// Largest SDP offer accepted.
pub const MAX_SDP: usize = 64 * 1024;
/// How long the HTTP thread waits for the answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// An offer from the HTTP thread, and where its answer goes (`Err`: the response to give instead).
pub struct Offer {
    /// The offer's SDP.
    pub sdp: String,
    /// Where the answer goes.
    pub reply: Sender<Result<String, Response>>,
}

/// `POST /offer`: checks the body, hands the offer on (and wakes the connection's thread by sending a
/// zero-length datagram from `waker` to `udp`), and waits for the answer.
pub fn post_offer(req: Request, offers: &Sender<Offer>, waker: &UdpSocket, udp: SocketAddr) -> Response {
    if !req.has_content_type("application/sdp") {
        return Response::text("415 Unsupported Media Type", "POST /offer takes application/sdp\n");
    }
    if req.body.len() > MAX_SDP {
        return Response::text("413 Content Too Large", format!("an offer is at most {MAX_SDP} bytes\n"));
    }
    let Ok(sdp) = String::from_utf8(req.body) else {
        return Response::text("400 Bad Request", "the offer is not UTF-8\n");
    };
    let (reply, answer) = channel();
    if offers.send(Offer { sdp, reply }).is_err() {
        return Response::text("503 Service Unavailable", "shutting down\n");
    }
    let _ = waker.send_to(&[], udp);
    match answer.recv_timeout(ANSWER_TIMEOUT) {
        Ok(Ok(sdp)) => Response::new("201 Created", "application/sdp", sdp.into_bytes()),
        Ok(Err(resp)) => resp,
        Err(_) => Response::text("503 Service Unavailable", "no answer\n"),
    }
}

/// The address to send wake-up datagrams from for a socket bound to `udp`: loopback when it listens on
/// every address.
pub fn wake_ip(udp: SocketAddr) -> IpAddr {
    match udp.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => Ipv4Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    }
}
