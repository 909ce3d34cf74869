//! `examples/whip_client.rs` against the echo server's WHIP endpoint: the data channel it publishes
//! echoes every message, and its `DELETE` ends the session (the server closes the connection and forgets
//! the session URL). Once as processes, as deployed (the echo server and the client built in release),
//! once in this process with a bearer token.

use core::time::Duration;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

#[allow(dead_code)]
#[path = "support/echo_server.rs"]
mod echo_server;

#[allow(dead_code)]
#[path = "../examples/echo_server/server.rs"]
mod server;

#[allow(dead_code)]
#[path = "../examples/whip_client.rs"]
mod whip_client;

use whip_client::{Options, publish};

fn options(endpoint: String, token: Option<&str>, messages: &[&str]) -> Options {
    Options {
        endpoint,
        token: token.map(str::to_string),
        messages: messages.iter().map(|m| m.to_string()).collect(),
        udp: Some("127.0.0.1:0".parse().unwrap()),
        seed: Some([3; 32]),
    }
}

/// The status of a GET on `url` (the session URL), with a bearer token.
fn get_status(url: &str, token: &str) -> u16 {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = TcpStream::connect(authority).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn publishes_with_a_bearer_token_and_delete_ends_the_session() {
    let config = server::Config { http: "127.0.0.1:0".parse().unwrap(), udp: None };
    let http = server::HttpOptions { token: Some("s3cret".into()), ice_servers: Vec::new() };
    let server = server::Server::start_with_options(&config, &http, None).unwrap();
    let endpoint = format!("http://{}/whip", server.http_addr());

    // Without the token, or with a wrong one, the endpoint refuses the offer.
    let err = publish(&options(endpoint.clone(), None, &["x"])).unwrap_err();
    assert!(err.contains("401"), "{err}");
    let err = publish(&options(endpoint.clone(), Some("wrong"), &["x"])).unwrap_err();
    assert!(err.contains("401"), "{err}");

    let big = "é".repeat(20_000); // 40,000 bytes: several SCTP chunks
    let messages = ["hello", "", big.as_str(), "the last one"];
    let outcome = publish(&options(endpoint.clone(), Some("s3cret"), &messages)).unwrap();
    assert!(outcome.session_url.starts_with(&format!("{endpoint}/")), "{}", outcome.session_url);
    assert_eq!(outcome.received, messages, "every message echoed intact, in order");
    assert_eq!(outcome.delete_status, 200);
    assert!(outcome.closed_by_server, "the DELETE closed the server's side of the connection");
    // The session is gone.
    assert_eq!(get_status(&outcome.session_url, "s3cret"), 404);
}

#[test]
fn the_example_publishes_to_the_echo_server_binary() {
    let scratch = echo_server::Scratch::new("whip-client");
    let server = echo_server::EchoServer::start(&scratch.0);
    let endpoint = format!("{}whip", server.url);
    let client = echo_server::build_example("whip_client");
    let out = Command::new(client)
        .args([endpoint.as_str(), "--message", "one", "--message", "two"])
        .env("SANSRTC_LOG", "sansrtc::pc=debug")
        .stdin(Stdio::null())
        .output()
        .expect("run the client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the client failed:\n{stdout}\n{stderr}\n{}", server.tails());
    assert!(stdout.contains(r#"sent "one", received "one""#), "{stdout}");
    assert!(stdout.contains(r#"sent "two", received "two""#), "{stdout}");
    assert!(stdout.contains(": 200"), "DELETE answered 200:\n{stdout}");
    assert!(stdout.contains("the server closed the connection"), "{stdout}");
    assert!(stdout.contains("done, 2 messages echoed"), "{stdout}");
    // The client's log lines name its connection (SANSRTC_LOG works as in the other examples).
    assert!(stderr.contains("pc{id=") && stderr.contains("DTLS connected"), "{stderr}");
    // The server saw its connection end cleanly (closed by the DELETE, not failed).
    server.assert_closed_cleanly(1);
}
