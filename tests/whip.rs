//! The echo server's WHIP (RFC 9725) and WHEP endpoints, `/stats`, CORS and bearer tokens, over real HTTP
//! on loopback, with sansrtc's own peer connection as the client: a session is opened with `POST`, carries
//! data-channel echoes, shows in the statistics and ends with `DELETE`; bad input gets the right status
//! and the server keeps serving.

use core::net::SocketAddr;
use core::time::Duration;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Instant as StdInstant;

use bytes::Bytes;
use sansrtc::pc::{ChannelId, ChannelOptions, Config, ConnectionState, Description, Event, PeerConnection};
use sansrtc::{Datagram, Machine, PathMachine, SeededRng, StdAnchor};

#[allow(dead_code)]
#[path = "../examples/echo_server/server.rs"]
mod server;

/// A response: status code, header fields, body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn headers(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

/// One HTTP/1.1 request on a new connection.
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let resp = String::from_utf8(resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    Reply { status, headers, body: body.to_string() }
}

fn post_sdp(addr: SocketAddr, path: &str, sdp: &str, auth: Option<&str>) -> Reply {
    let mut headers = vec![("Content-Type", "application/sdp")];
    let bearer = auth.map(|t| format!("Bearer {t}"));
    if let Some(b) = &bearer {
        headers.push(("Authorization", b));
    }
    request(addr, "POST", path, &headers, sdp.as_bytes())
}

/// A sansrtc peer connection on its own loopback socket with one channel, driven by hand.
struct Client {
    pc: PeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    anchor: StdAnchor,
    channel: ChannelId,
    open: bool,
    inbox: Vec<(Bytes, bool)>,
}

impl Client {
    fn new(seed: u8, label: &str) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let local = socket.local_addr().unwrap();
        let anchor = StdAnchor::starting_now();
        let now = anchor.now();
        let mut pc = PeerConnection::new(Config::default(), SeededRng::from_seed([seed; 32]));
        pc.add_local_host(now, local).unwrap();
        pc.end_of_local_candidates(now);
        let channel = pc.create_data_channel(now, ChannelOptions::new(label)).unwrap();
        Client { pc, socket, local, anchor, channel, open: false, inbox: Vec::new() }
    }

    fn offer(&mut self) -> String {
        let offer = self.pc.create_offer().unwrap();
        self.pc.set_local_description(self.anchor.now(), &offer).unwrap();
        offer.sdp
    }

    fn answer(&mut self, sdp: &str) {
        self.pc.set_remote_description(self.anchor.now(), &Description::answer(sdp)).unwrap();
    }

    fn step(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            let d = Datagram { source: from, destination: self.local, contents: &buf[..n] };
            let _ = self.pc.handle_receive(self.anchor.now(), d);
        }
        let now = self.anchor.now();
        if self.pc.poll_timeout().is_some_and(|t| t <= now) {
            self.pc.handle_timeout(now);
        }
        while let Some(t) = self.pc.poll_transmit() {
            let _ = self.socket.send_to(t.contents, t.destination);
        }
        while let Some(e) = self.pc.poll_event() {
            match e {
                Event::ChannelOpen(id) if id == self.channel => self.open = true,
                Event::Message { data, binary, .. } => self.inbox.push((data, binary)),
                _ => {}
            }
        }
    }

    fn run_until(&mut self, what: &str, mut done: impl FnMut(&Client) -> bool) {
        let start = StdInstant::now();
        while !done(self) {
            assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
            self.step();
            std::thread::sleep(Duration::from_micros(300));
        }
    }
}

fn start(options: server::HttpOptions) -> server::Server {
    let config = server::Config { http: "127.0.0.1:0".parse().unwrap(), udp: None };
    server::Server::start_with_options(&config, &options, None).unwrap()
}

/// The session URL of a `201 Created`, checked: `<endpoint>/<32 hex digits>`.
fn location(reply: &Reply, endpoint: &str) -> String {
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.header("Content-Type"), Some("application/sdp"));
    let location = reply.header("Location").expect("a Location").to_string();
    let session = location.strip_prefix(&format!("{endpoint}/")).expect("under the endpoint");
    assert!(session.len() == 32 && session.bytes().all(|b| b.is_ascii_hexdigit()), "{location}");
    location
}

/// Opens a session on `endpoint`, waits for the channel to open; returns the client and the session URL.
fn open_session(addr: SocketAddr, endpoint: &str, seed: u8, label: &str) -> (Client, String) {
    let mut client = Client::new(seed, label);
    let offer = client.offer();
    let reply = post_sdp(addr, endpoint, &offer, None);
    let url = location(&reply, endpoint);
    assert_eq!(reply.header("Access-Control-Allow-Origin"), Some("*"));
    assert!(reply.header("Access-Control-Expose-Headers").is_some_and(|h| h.contains("Location")));
    client.answer(&reply.body);
    client.run_until("the channel open", |c| c.open);
    (client, url)
}

#[test]
fn whip_session_echoes_shows_in_stats_and_ends_on_delete() {
    let server = start(server::HttpOptions::default());
    let addr = server.http_addr();
    let (mut client, url) = open_session(addr, "/whip", 1, "whip");
    let messages: Vec<(Bytes, bool)> =
        vec![(Bytes::from_static(b"hello"), false), (Bytes::from(vec![9u8; 10_000]), true), (Bytes::new(), true)];
    for (m, binary) in &messages {
        let now = client.anchor.now();
        client.pc.send(now, client.channel, m.clone(), *binary).unwrap();
    }
    client.run_until("every echo", |c| c.inbox.len() == messages.len());
    assert_eq!(client.inbox, messages, "echoed in order with their types");

    #[cfg(feature = "serde")]
    {
        let total: u64 = messages.iter().map(|(m, _)| m.len() as u64).sum();
        let reply = request(addr, "GET", "/stats", &[], b"");
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.header("Content-Type"), Some("application/json"));
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        let session = url.rsplit('/').next().unwrap();
        let connections = json["connections"].as_array().unwrap();
        let conn = connections.iter().find(|c| c["session"] == session).expect("the session in /stats");
        assert_eq!(conn["connectionState"], "connected");
        let stats = conn["stats"].as_array().unwrap();
        let dc = stats
            .iter()
            .find(|s| s["type"] == "data-channel" && s["label"] == "whip")
            .unwrap_or_else(|| panic!("the channel in {stats:?}"));
        // The server received what the client sent and sent it back.
        assert_eq!(dc["messagesReceived"].as_u64(), Some(messages.len() as u64));
        assert_eq!(dc["bytesReceived"].as_u64(), Some(total));
        assert_eq!(dc["messagesSent"].as_u64(), Some(messages.len() as u64));
        assert_eq!(dc["bytesSent"].as_u64(), Some(total));
        let transport = stats.iter().find(|s| s["type"] == "transport").unwrap();
        assert_eq!(transport["dtlsState"], "connected");
        assert!(transport["bytesReceived"].as_u64().unwrap() > total);
    }

    // DELETE ends the session: the server closes the connection (the client sees it closed) and
    // forgets it.
    let reply = request(addr, "DELETE", &url, &[], b"");
    assert_eq!(reply.status, 200, "{}", reply.body);
    client.run_until("the connection closed", |c| c.pc.connection_state() == ConnectionState::Closed);
    assert_eq!(request(addr, "DELETE", &url, &[], b"").status, 404, "gone");
    let frag = "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n";
    let patch = request(addr, "PATCH", &url, &[("Content-Type", "application/trickle-ice-sdpfrag")], frag.as_bytes());
    assert_eq!(patch.status, 404);
    #[cfg(feature = "serde")]
    {
        let json: serde_json::Value = serde_json::from_str(&request(addr, "GET", "/stats", &[], b"").body).unwrap();
        assert_eq!(json["connections"].as_array().map(Vec::len), Some(0), "no connection left: {json}");
    }
}

#[test]
fn whep_sessions_work_the_same_way() {
    let server = start(server::HttpOptions::default());
    let addr = server.http_addr();
    let (mut client, url) = open_session(addr, "/whep", 2, "whep");
    let now = client.anchor.now();
    client.pc.send_text(now, client.channel, "over whep").unwrap();
    client.run_until("the echo", |c| !c.inbox.is_empty());
    assert_eq!(client.inbox[0], (Bytes::from_static(b"over whep"), false));
    assert_eq!(request(addr, "GET", &url, &[], b"").status, 204, "GET: no content");
    assert_eq!(request(addr, "DELETE", &url, &[], b"").status, 200);
    client.run_until("the connection closed", |c| c.pc.connection_state() == ConnectionState::Closed);
}

#[test]
fn bad_input_gets_the_right_status_and_the_server_keeps_serving() {
    let server = start(server::HttpOptions::default());
    let addr = server.http_addr();
    let mut client = Client::new(3, "x");
    let offer = client.offer();

    // POST: too large, wrong type, malformed.
    let big = vec![b'a'; 64 * 1024 + 1];
    assert_eq!(request(addr, "POST", "/whip", &[("Content-Type", "application/sdp")], &big).status, 413);
    let huge = vec![b'a'; 2 * 1024 * 1024];
    assert_eq!(request(addr, "POST", "/whep", &[("Content-Type", "application/sdp")], &huge).status, 413);
    assert_eq!(request(addr, "POST", "/whip", &[("Content-Type", "text/plain")], offer.as_bytes()).status, 415);
    assert_eq!(request(addr, "POST", "/whip", &[], offer.as_bytes()).status, 415, "no Content-Type");
    assert_eq!(post_sdp(addr, "/whip", "v=0\r\nthis is not sdp\r\n", None).status, 400);
    assert_eq!(request(addr, "POST", "/whip", &[("Content-Type", "application/sdp")], &[0xff, 0xfe]).status, 400);
    assert_eq!(request(addr, "PUT", "/whip", &[], b"").status, 405);
    assert_eq!(request(addr, "GET", "/whip", &[], b"").status, 204);

    // OPTIONS (a CORS preflight from another origin).
    let pre = request(
        addr,
        "OPTIONS",
        "/whip",
        &[("Origin", "https://other.example"), ("Access-Control-Request-Method", "POST")],
        b"",
    );
    assert_eq!(pre.status, 200);
    assert_eq!(pre.header("Accept-Post"), Some("application/sdp"));
    assert_eq!(pre.header("Access-Control-Allow-Origin"), Some("*"));
    let methods = pre.header("Access-Control-Allow-Methods").unwrap();
    assert!(methods.contains("POST") && methods.contains("DELETE") && methods.contains("PATCH"), "{methods}");
    let allowed = pre.header("Access-Control-Allow-Headers").unwrap();
    assert!(allowed.contains("Authorization") && allowed.contains("Content-Type"), "{allowed}");

    // PATCH and DELETE on sessions that do not exist; 1,000 DELETEs, well-formed ids and junk.
    let unknown = "/whip/0123456789abcdef0123456789abcdef";
    let frag = "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n";
    let sdpfrag = [("Content-Type", "application/trickle-ice-sdpfrag")];
    assert_eq!(request(addr, "PATCH", unknown, &sdpfrag, frag.as_bytes()).status, 404);
    for i in 0..1000u32 {
        let path = match i % 4 {
            0 => format!("/whip/{:032x}", u128::from(i) * 0x9e37_79b9_7f4a_7c15),
            1 => format!("/whep/{:032x}", u128::from(i) + 1),
            2 => format!("/whip/{}", "z".repeat(i as usize % 300)),
            _ => format!("/whip/../{i}%00"),
        };
        let reply = request(addr, "DELETE", &path, &[], b"");
        assert_eq!(reply.status, 404, "DELETE {path}");
    }

    // The server still answers, and the old endpoint keeps its contract.
    let (_client, url) = open_session(addr, "/whip", 4, "after");
    let old = post_sdp(addr, "/offer", &Client::new(5, "old").offer(), None);
    assert_eq!(old.status, 201, "{}", old.body);
    assert_eq!(old.header("Content-Type"), Some("application/sdp"));

    // PATCH on a live session: the body is checked, then trickle ICE is refused with 405.
    assert_eq!(request(addr, "PATCH", &url, &[("Content-Type", "application/sdp")], frag.as_bytes()).status, 415);
    for bad in ["", "hello\r\n", "x=1\r\n", "a=candidate:1 1 udp\r\n", "a=ice-ufrag:\r\n", "a=\r\n"] {
        let reply = request(addr, "PATCH", &url, &sdpfrag, bad.as_bytes());
        assert_eq!(reply.status, 400, "malformed fragment {bad:?}: {}", reply.body);
    }
    assert_eq!(request(addr, "PATCH", &url, &sdpfrag, &[0xc3, 0x28]).status, 400, "not UTF-8");
    let good = "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
                a=mid:0\r\na=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host\r\na=end-of-candidates\r\n";
    let reply = request(addr, "PATCH", &url, &sdpfrag, good.as_bytes());
    assert_eq!(reply.status, 405, "{}", reply.body);
    assert!(reply.header("Allow").is_some_and(|a| a.contains("DELETE") && !a.contains("PATCH")));
    assert_eq!(request(addr, "DELETE", &url, &[], b"").status, 200);
}

#[test]
fn bearer_token_and_ice_server_links() {
    let options = server::HttpOptions {
        token: Some("s3cret".into()),
        ice_servers: vec![server::IceServer {
            url: "turn:127.0.0.1:3478?transport=udp".into(),
            credentials: Some(("user".into(), "pa\"ss".into())),
        }],
    };
    let server = start(options);
    let addr = server.http_addr();
    let mut client = Client::new(6, "auth");
    let offer = client.offer();

    let refused = post_sdp(addr, "/whip", &offer, None);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("WWW-Authenticate"), Some("Bearer"));
    assert_eq!(post_sdp(addr, "/whip", &offer, Some("wrong")).status, 401);
    assert_eq!(request(addr, "GET", "/stats", &[], b"").status, 401);
    // A preflight carries no token (WHATWG Fetch) and is answered.
    assert_eq!(request(addr, "OPTIONS", "/whip", &[("Access-Control-Request-Method", "POST")], b"").status, 200);

    let reply = post_sdp(addr, "/whip", &offer, Some("s3cret"));
    let url = location(&reply, "/whip");
    assert_eq!(
        reply.headers("Link"),
        vec![
            r#"<turn:127.0.0.1:3478?transport=udp>; rel="ice-server"; username="user"; credential="pa\"ss"; credential-type="password""#
        ]
    );
    client.answer(&reply.body);
    client.run_until("the channel open", |c| c.open);
    let stats = request(addr, "GET", "/stats", &[("Authorization", "Bearer s3cret")], b"");
    assert_eq!(stats.status, if cfg!(feature = "serde") { 200 } else { 501 });
    // DELETE needs the token too: without it the session lives on.
    assert_eq!(request(addr, "DELETE", &url, &[], b"").status, 401);
    assert_eq!(request(addr, "GET", &url, &[("Authorization", "bearer s3cret")], b"").status, 204);
    assert_eq!(request(addr, "DELETE", &url, &[("Authorization", "Bearer s3cret")], b"").status, 200);
    client.run_until("the connection closed", |c| c.pc.connection_state() == ConnectionState::Closed);
}
