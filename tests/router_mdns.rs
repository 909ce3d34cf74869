//! The router and mDNS: full-ICE server connections on one shared socket resolve the `.local` names their
//! clients hide their host addresses behind. Each connection's queries leave from the shared socket; the
//! answers come back to it from port 5353, on no path a connection has, and the router hands each to the
//! connection that asked. Answers nobody asked for are nobody's.

use core::net::{IpAddr, SocketAddr};

use sansrtc::ice::CandidateKind;
use sansrtc::mdns::wire;
use sansrtc::pc::{ChannelOptions, Config, ConnectionState, PeerConnection};
use sansrtc::router::{self, RouteError, Router};
use sansrtc::{Datagram, Instant, Machine, PathMachine, SeededRng};

const SERVER: &str = "10.0.0.1:5000";
const CLIENTS: usize = 3;

fn client_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 10 + i as u8], 6000))
}

#[test]
fn answers_reach_the_connection_that_asked() {
    let server: SocketAddr = SERVER.parse().unwrap();
    let mut rng = SeededRng::from_seed([3; 32]);
    let now = Instant::ZERO;
    let mut router: Router<PeerConnection> = Router::new(router::Config::default(), rng.fork());
    let mut clients = Vec::new();
    let mut keys = Vec::new();
    for i in 0..CLIENTS {
        let mut c = PeerConnection::new(Config { hide_local_addresses: true, ..Config::default() }, rng.fork());
        c.add_local_host(now, client_addr(i)).unwrap();
        c.add_mdns_socket(now, SocketAddr::new(client_addr(i).ip(), wire::PORT)).unwrap();
        c.end_of_local_candidates(now);
        c.create_data_channel(now, ChannelOptions::new("chat")).unwrap();
        let offer = c.create_offer().unwrap();
        c.set_local_description(now, &offer).unwrap();
        assert!(!offer.sdp.contains(&client_addr(i).ip().to_string()), "{}", offer.sdp);
        // The server's side: full ICE (it must check the client's candidates itself).
        let mut pc = PeerConnection::new(Config::default(), rng.fork());
        pc.add_local_host(now, server).unwrap();
        pc.end_of_local_candidates(now);
        pc.set_remote_description(now, &offer).unwrap();
        let answer = pc.create_answer().unwrap();
        pc.set_local_description(now, &answer).unwrap();
        c.set_remote_description(now, &answer).unwrap();
        keys.push(router.insert(now, pc).map_err(|_| "full").unwrap());
        clients.push(c);
    }
    // The network is instantaneous; the group reaches every client.
    let mut now = now;
    for _ in 0..2000 {
        let mut to_clients = Vec::new();
        while let Some((_, t)) = router.poll_transmit() {
            to_clients.push((t.source, t.destination, t.contents.to_vec()));
        }
        for (source, destination, data) in &to_clients {
            for (i, c) in clients.iter_mut().enumerate() {
                let group = destination.ip() == IpAddr::V4(wire::GROUP_V4);
                if group || destination.ip() == client_addr(i).ip() {
                    let d = Datagram { source: *source, destination: *destination, contents: data };
                    let _ = c.handle_receive(now, d);
                }
            }
        }
        let mut to_server = Vec::new();
        for c in &mut clients {
            while let Some(t) = c.poll_transmit() {
                to_server.push((t.source, t.destination, t.contents.to_vec()));
            }
            while c.poll_event().is_some() {}
        }
        for (source, destination, data) in &to_server {
            let _ = router.handle_receive(now, Datagram { source: *source, destination: *destination, contents: data });
        }
        while router.poll_event().is_some() {}
        let done = clients.iter().all(|c| c.connection_state() == ConnectionState::Connected)
            && keys
                .iter()
                .all(|&k| router.get(k).is_some_and(|pc| pc.connection_state() == ConnectionState::Connected));
        if done {
            break;
        }
        if to_clients.is_empty() && to_server.is_empty() {
            let next = [router.poll_timeout()].into_iter().chain(clients.iter().map(Machine::poll_timeout));
            now = next.flatten().min().unwrap_or(now).max(now + core::time::Duration::from_millis(1));
            router.handle_timeout(now);
            for c in &mut clients {
                c.handle_timeout(now);
            }
        }
    }
    for (i, &key) in keys.iter().enumerate() {
        let pc = router.get(key).unwrap();
        assert_eq!(pc.connection_state(), ConnectionState::Connected, "connection {i}");
        // Each resolved its own client's name, once, to its client's address: the host pair.
        let resolver = pc.mdns_resolver().unwrap().stats();
        assert_eq!((resolver.queries, resolver.resolved), (1, 1), "connection {i}");
        let remote = pc.ice().selected_pair().map(|(_, r)| (r.kind, r.address));
        assert_eq!(remote, Some((CandidateKind::Host, client_addr(i))), "connection {i}");
    }
    for c in &clients {
        assert_eq!(c.mdns_responder().unwrap().stats().answered, 1);
    }
    let stats = router.stats();
    assert_eq!((stats.mdns_routed, stats.mdns_unwanted), (CLIENTS as u64, 0));
    // An answer nobody asked for (nothing is being resolved any more): nobody's, counted.
    let mut junk = Vec::new();
    wire::emit_answer(&mut junk, 0, "0c7e2a61-5b4d-4e3f-9a8b-7c6d5e4f3a2b.local", &[client_addr(0).ip()], 120, false)
        .unwrap();
    let d = Datagram { source: SocketAddr::new(client_addr(0).ip(), wire::PORT), destination: server, contents: &junk };
    assert!(matches!(router.handle_receive(now, d), Err(RouteError::NotMine)));
    assert_eq!(router.stats().mdns_unwanted, 1);
}
