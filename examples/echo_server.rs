//! An echo server for browsers, for data channels, audio and video: std UDP, one socket for every peer
//! connection, and a minimal HTTP signalling endpoint.
//!
//! ```text
//! cargo run --release --example echo_server -- --http 127.0.0.1:8080 [--udp ADDR] [--full-ice]
//! ```
//!
//! Open `http://127.0.0.1:8080/` in a browser: the page offers four data channels (ordered reliable,
//! unordered, `maxRetransmits: 0`, and a negotiated one with id 7), POSTs its offer to `/offer`, and checks
//! that every message it sends comes back byte for byte with the same type, then pushes 32 MiB through the
//! reliable channel with `bufferedAmount` flow control. Results are shown and POSTed to `/report`, which
//! this server prints on stdout (`tests/chromium.rs` and `tests/firefox.rs` run it all in headless
//! browsers).
//!
//! ## Media
//!
//! Every audio and video track a peer sends comes back to it on the same transceiver (the answer says
//! `sendrecv`), sent with `write_rtp` as a stream of the server's own (its SSRCs and sequence numbers);
//! a retransmission is echoed as the packet it repairs, and a key-frame request the peer makes for the
//! echoed stream is passed on to the peer's own encoder (`request_keyframe` on that transceiver). Reports
//! and feedback are the peer connection's own work. `http://127.0.0.1:8080/?media` adds the camera and
//! microphone to the page, which checks that it decodes its own video and audio coming back, next to the
//! channel checks. See `examples/echo_server/media.rs`.
//!
//! `--udp ADDR` picks the peer connections' UDP socket (default: the HTTP address's IP, any port).
//! `--tcp ADDR` also listens for ICE-TCP (RFC 6544, RFC 4571 framing) on ADDR: every answer carries a
//! `tcp … typ host tcptype passive` candidate there, ranked below the UDP one, so a browser whose UDP is
//! blocked connects over TCP (`examples/echo_server/tcp.rs`; not with TURN).
//! `--full-ice` runs full ICE instead of ICE lite, for peers that do not pair their candidates with the
//! server's address themselves (Firefox with a server on `127.0.0.1`). `--mdns` also opens a socket on
//! the mDNS group (`0.0.0.0:5353` shared with `SO_REUSEADDR`/`SO_REUSEPORT`, joined to 224.0.0.251 on the
//! `--udp` interface) and hands what it receives to the router: the connections resolve the `.local`
//! names browsers hide their host addresses behind with queries from the shared socket, and this
//! catches the answers a responder sends to the group rather than back to that socket. `--dtls 1.2` or
//! `--dtls 1.3` pins the DTLS version (default: 1.3 preferred, 1.2 for peers without it); `--dtls-role
//! server` answers an offer's `a=setup:actpass` with `passive`, making the server the DTLS server (default
//! `client`). Each connection's `connection Connected` line says which version and role it got. Ctrl-C
//! shuts down cleanly.
//!
//! ## WHIP, WHEP and statistics
//!
//! `POST /whip` (or `/whep`) with an `application/sdp` offer opens a session (RFC 9725): `201 Created`
//! with the answer and the session URL in `Location`; `DELETE` on that URL ends it. `PATCH` (trickle ICE,
//! ICE restarts) is answered `405 Method Not Allowed`: the offer must carry the client's candidates.
//! `GET /stats` returns the W3C statistics of every live connection as JSON (build with
//! `--features serde`). `--token T` makes the WHIP/WHEP endpoints and `/stats` require
//! `Authorization: Bearer T`. With `--turn-url`, WHIP/WHEP answers also carry the TURN server in a
//! `Link: <turn:…>; rel="ice-server"` header. Logs: `SANSRTC_LOG=sansrtc::ice=debug` (a
//! `tracing-subscriber` filter).
//!
//! ## TURN
//!
//! ```text
//! cargo run --release --example echo_server -- --http 127.0.0.1:8080 \
//!     --turn-url turn:HOST:PORT --turn-username U --turn-credential P [--relay-only]
//! ```
//!
//! With `--turn-url` every peer connection allocates a relayed address on that TURN server (UDP, long-term
//! credentials) and offers it as a `typ relay` candidate next to its host candidate; `--relay-only` offers
//! and uses the relay candidate alone (W3C `iceTransportPolicy: "relay"`). In TURN mode the server runs full
//! ICE rather than ICE lite, answers once gathering is complete, and gives each peer connection a UDP
//! socket of its own on the `--udp` IP (RFC 8656 allows one allocation per client 5-tuple, so connections
//! cannot share one socket towards the server); `--udp` then only receives wake-ups. The design is
//! described in `examples/echo_server/peers.rs`. Without the TURN options nothing changes.
//!
//! ## Recording
//!
//! `--record DIR` journals every peer connection into `DIR/peerN-SESSION.journal`: every datagram, timeout
//! and call it got (media calls included), with a digest of everything it gave back.
//! `cargo run --example replay -- FILE` replays one against the current code and prints its timeline
//! (`docs/journal.md`). Next to it, `DIR/peerN-SESSION.pcapng` captures every datagram the connection sent
//! and received, with the DTLS key log embedded: `wireshark` or `tshark -r FILE` shows the SCTP and data
//! channel messages decrypted (`scripts/wireshark/sctp_over_dtls.lua` dissects SCTP inside DTLS). Both hold
//! the session's secrets and every message: keep the directory private.

use core::net::SocketAddr;
use std::sync::mpsc::channel;

/// `SANSRTC_LOG` filter for tracing output (see `examples/support/log.rs`).
#[path = "support/log.rs"]
mod log;

#[allow(dead_code)] // Parts used only by tests/chromium.rs.
#[path = "echo_server/server.rs"]
mod server;

fn usage(msg: &str) -> ! {
    eprintln!("echo_server: {msg}");
    eprintln!(
        "usage: echo_server --http ADDR [--udp ADDR] [--tcp ADDR] [--token T] [--record DIR] [--full-ice] [--mdns] \
         [--dtls 1.2|1.3] [--dtls-role client|server] \
         [--turn-url turn:HOST:PORT --turn-username U --turn-credential P [--relay-only]]"
    );
    std::process::exit(2)
}

fn main() {
    log::init();
    let mut http: Option<SocketAddr> = None;
    let mut udp: Option<SocketAddr> = None;
    let mut turn_url: Option<String> = None;
    let mut turn_username: Option<String> = None;
    let mut turn_credential: Option<String> = None;
    let mut relay_only = false;
    let mut token: Option<String> = None;
    let mut record: Option<std::path::PathBuf> = None;
    let mut full_ice = false;
    let mut tcp: Option<SocketAddr> = None;
    let mut mdns = false;
    let mut dtls_versions = sansrtc::dtls::Versions::DEFAULT;
    let mut answer_setup = sansrtc::pc::Setup::Active;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--http" => http = Some(value().parse().unwrap_or_else(|_| usage("bad --http address"))),
            "--udp" => udp = Some(value().parse().unwrap_or_else(|_| usage("bad --udp address"))),
            "--turn-url" => turn_url = Some(value()),
            "--turn-username" => turn_username = Some(value()),
            "--turn-credential" => turn_credential = Some(value()),
            "--relay-only" => relay_only = true,
            "--token" => token = Some(value()),
            "--record" => record = Some(value().into()),
            "--full-ice" => full_ice = true,
            "--tcp" => tcp = Some(value().parse().unwrap_or_else(|_| usage("bad --tcp address"))),
            "--mdns" => mdns = true,
            "--dtls" => {
                dtls_versions = match value().as_str() {
                    "1.2" => sansrtc::dtls::Versions::Dtls12,
                    "1.3" => sansrtc::dtls::Versions::Dtls13,
                    _ => usage("--dtls takes 1.2 or 1.3"),
                }
            }
            "--dtls-role" => {
                answer_setup = match value().as_str() {
                    "client" => sansrtc::pc::Setup::Active,
                    "server" => sansrtc::pc::Setup::Passive,
                    _ => usage("--dtls-role takes client or server"),
                }
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let http = http.unwrap_or_else(|| "127.0.0.1:8080".parse().unwrap_or_else(|_| usage("bad default")));
    let turn = match (turn_url, turn_username, turn_credential) {
        (None, None, None) if !relay_only => None,
        (Some(url), Some(username), Some(credential)) => {
            let server = turn_server(&url).unwrap_or_else(|e| usage(&e));
            Some(server::peers::TurnOptions { server, username, credential, relay_only })
        }
        _ => usage("--turn-url, --turn-username and --turn-credential go together (and --relay-only needs them)"),
    };
    let config = server::Config { http, udp };
    let ice_servers = turn
        .iter()
        .map(|t| server::IceServer {
            url: format!("turn:{}?transport=udp", t.server),
            credentials: Some((t.username.clone(), t.credential.clone())),
        })
        .collect();
    let options = server::HttpOptions { token, ice_servers };
    if let Some(dir) = &record {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| usage(&format!("--record {}: {e}", dir.display())));
    }
    if tcp.is_some() && turn.is_some() {
        usage("--tcp does not go with TURN mode");
    }
    let peer_options = server::peers::PeerOptions { record, full_ice, tcp, mdns, dtls_versions, answer_setup };
    let mut server = server::Server::start_with_peer_options(&config, &options, turn, peer_options)
        .unwrap_or_else(|e| usage(&e.to_string()));
    let (tx, rx) = channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .unwrap_or_else(|e| usage(&format!("cannot install the Ctrl-C handler: {e}")));
    let _ = rx.recv();
    println!("echo server: Ctrl-C, shutting down");
    server.shutdown();
}

/// The UDP address of a `turn:HOST:PORT` URL (RFC 7065; the port defaults to 3478, `?transport=udp` is
/// accepted, `turns:` and TCP are not supported here). A host name resolves to its first IPv4 address.
fn turn_server(url: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let rest = url.strip_prefix("turn:").ok_or_else(|| format!("{url}: only turn: URLs are supported"))?;
    let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !query.is_empty() && query != "transport=udp" {
        return Err(format!("{url}: only UDP transport is supported"));
    }
    let with_port = if hostport.ends_with(']') || !hostport.contains(':') {
        format!("{hostport}:3478")
    } else {
        hostport.to_string()
    };
    let addrs: Vec<SocketAddr> = with_port.to_socket_addrs().map_err(|e| format!("{url}: {e}"))?.collect();
    addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied().ok_or_else(|| format!("{url}: no address"))
}
