//! The UDP side of the broadcast: the publisher's and every viewer's peer connection in one
//! [`Router`] on one socket, and the forwarding between them.
//!
//! - **Publisher.** Its offer is answered `recvonly` (audio: Opus; video: VP8 and H.264, in the order
//!   [`Options::video`] says, so its browser sends the first). A new publisher replaces the one before
//!   (closed); the viewers' video then waits for the new one's key frame, and their timestamps go on from
//!   where the old one stopped ([`Timeline`]).
//! - **Viewers.** Each offer is answered `sendonly`, a track of ours on the offer's first audio and first
//!   video transceiver, with the codecs we can forward. A viewer may come before the publisher: it gets
//!   media once there is some.
//! - **Forwarding.** The packets the publisher sends ([`Event::Rtp`]; a retransmission arrives as the
//!   packet it repairs, restored by the connection) are put back in order, each once ([`Reorder`]: a
//!   packet after a lost one waits up to `Options::reorder_wait` for its retransmission; one that never comes
//!   makes the viewers' video wait for a key frame). Each then goes to every viewer with
//!   [`PeerConnection::write_rtp`]: its payload untouched, its payload type the viewer's for the same
//!   format ([`map_payload_type`]), its timestamp on the viewer's [`Timeline`], the audio-level,
//!   orientation and playout-delay extensions carried over (the viewer's connection writes them with its
//!   own ids), and the viewer's own SSRC and next sequence number from its connection. A viewer's NACKs
//!   are answered from its own connection's retransmission history; its reports are its own.
//! - **Key frames.** A viewer's video passes from a key frame on ([`KeyframeGate`]). A viewer that
//!   connects gets a key-frame request sent to the publisher on its behalf; so does one whose gate waits
//!   (again every second while it waits), and a viewer's own PLI or FIR ([`Event::KeyframeRequest`]) is
//!   passed on. All of them go through the publisher track's [`RequestLimiter`]: at most one request per
//!   [`KEYFRAME_REQUEST_INTERVAL`], the others held back and sent as one when the interval ends.
//!
//! Connections that end are reaped by the router; what the server knows of them goes with them. What
//! happens is printed, one line per event (none per packet); [`Sfu::stats_json`] gives the counts.
//!
//! The loop is the README's over the router ([`Sfu::receive`], [`Sfu::handle_timeout`] at
//! [`Sfu::poll_timeout`], [`Sfu::drain_transmits`], [`Sfu::drain_events`], the transmits again): the
//! deadline covers the connections', the held key-frame requests' and the packets waiting for a
//! retransmission, and forwarding happens while the events are drained, its transmits sent right after.

use core::fmt::Write as _;
use core::net::SocketAddr;
use core::time::Duration;
use std::collections::HashMap;

use sansrtc::pc::{
    self, Codec, ConnectionState, Description, Event, MediaKind, OutgoingRtp, PeerConnection, RtpPacket, Track,
};
use sansrtc::router::{self, Key, RouteError, Router};
use sansrtc::rtp::ExtensionValue;
use sansrtc::{Datagram, Instant, SeededRng};
use smallvec::SmallVec;

use super::forward::{
    KEYFRAME_REQUEST_INTERVAL, KeyframeGate, Limited, Release, Reorder, RequestLimiter, Timeline, map_payload_type,
    starts_keyframe,
};

/// Viewers served at once.
pub const MAX_VIEWERS: usize = 1000;

/// Which video codec the publisher is asked to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoCodec {
    /// VP8 first, H.264 if the browser offers no VP8.
    Vp8,
    /// H.264 first (when the browser offers it), else VP8.
    H264,
}

/// How the broadcast runs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The codec the publisher is asked to send.
    pub video: VideoCodec,
    /// How long a video packet after a lost one waits for the lost one's retransmission
    /// (`forward::REORDER_WAIT`, 200 ms, by default).
    pub reorder_wait: Duration,
}

/// Who an offer comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The one who sends.
    Publisher,
    /// One of those who receive.
    Viewer,
}

/// One track the publisher sends: its m-section, the codecs it negotiated, and the requests for key
/// frames passed on to it.
struct PubTrack {
    mid: String,
    kind: MediaKind,
    codecs: Vec<Codec>,
    limiter: RequestLimiter,
    /// Its packets in order, each once (audio does not wait for retransmissions: none come).
    reorder: Reorder<RtpPacket>,
}

/// The publisher.
struct Publisher {
    key: Key,
    name: String,
    /// Counts publishers: a viewer's streams change source when it changes.
    generation: u32,
    tracks: Vec<PubTrack>,
    /// Packets received and forwarded, retransmissions restored, padding skipped, retransmissions not
    /// restored (dropped), packets lost on the way.
    packets: u64,
    repaired: u64,
    padding: u64,
    late: u64,
    lost: u64,
}

impl Publisher {
    /// Packets dropped as too late (or as RTX not restored), over every track.
    fn late(&self) -> u64 {
        self.late + self.tracks.iter().map(|t| t.reorder.late).sum::<u64>()
    }

    fn video(&mut self) -> Option<&mut PubTrack> {
        self.tracks.iter_mut().find(|t| t.kind == MediaKind::Video)
    }
}

/// A viewer's sending track of one kind.
struct Out {
    mid: String,
    codecs: Vec<Codec>,
    timeline: Timeline,
    /// Video only.
    gate: Option<KeyframeGate>,
    /// The publisher's payload types mapped to ours, for the publisher `generation` (a few entries).
    mapped: Vec<(u32, u8, Option<u8>)>,
    forwarded: u64,
    /// Packets of a format the viewer did not negotiate.
    unmapped: u64,
    /// Packets its connection refused (not connected yet, …).
    refused: u64,
}

impl Out {
    fn payload_type(&mut self, generation: u32, codec: &Codec) -> Option<u8> {
        if let Some(&(_, _, pt)) = self.mapped.iter().find(|(g, p, _)| *g == generation && *p == codec.payload_type) {
            return pt;
        }
        let pt = map_payload_type(codec, &self.codecs);
        self.mapped.retain(|(g, _, _)| *g == generation);
        if self.mapped.len() < 16 {
            self.mapped.push((generation, codec.payload_type, pt));
        }
        pt
    }
}

/// A viewer.
struct Viewer {
    name: String,
    connected: bool,
    audio: Option<Out>,
    video: Option<Out>,
    /// Key-frame requests made on its behalf (joined, waiting), and of its own passed on.
    requests_for: u64,
    requests_of: u64,
}

/// The publisher, the viewers and their router.
pub struct Sfu {
    local: SocketAddr,
    rng: SeededRng,
    options: Options,
    router: Router<PeerConnection>,
    publisher: Option<Publisher>,
    /// Publishers replaced and closed, until they are reaped (for their names).
    replaced: Vec<(Key, String)>,
    viewers: HashMap<Key, Viewer>,
    generations: u32,
    publishers: u64,
    viewers_seen: u64,
    /// Datagrams no connection claimed.
    pub unmatched: u64,
}

impl Sfu {
    /// An empty broadcast on the socket at `local`.
    pub fn new(local: SocketAddr, mut rng: SeededRng, options: Options) -> Sfu {
        let config = router::Config { max_connections: MAX_VIEWERS + 2, ..router::Config::default() };
        let router = Router::new(config, rng.fork());
        Sfu {
            local,
            rng,
            options,
            router,
            publisher: None,
            replaced: Vec::new(),
            viewers: HashMap::new(),
            generations: 0,
            publishers: 0,
            viewers_seen: 0,
            unmatched: 0,
        }
    }

    /// The codecs offered to `kind` transceivers: what this server can forward (and find key frames in).
    fn codecs(&self, kind: MediaKind, role: Role) -> Vec<Codec> {
        let all = pc::Config::default().codecs;
        let order: &[&str] = match (kind, role, self.options.video) {
            (MediaKind::Audio, _, _) => &["opus"],
            (MediaKind::Video, Role::Publisher, VideoCodec::H264) => &["H264", "VP8"],
            (MediaKind::Video, _, _) => &["VP8", "H264"],
        };
        order
            .iter()
            .flat_map(|name| all.iter().filter(move |c| c.kind == kind && c.name.eq_ignore_ascii_case(name)))
            .cloned()
            .collect()
    }

    /// Answers an offer from a publisher or a viewer with a new connection; returns the answer's SDP.
    pub fn answer(&mut self, now: Instant, role: Role, offer: &str) -> Result<String, String> {
        if role == Role::Viewer && self.viewers.len() >= MAX_VIEWERS {
            return Err(format!("too many viewers ({MAX_VIEWERS})"));
        }
        let mut config = pc::Config::default();
        // A server on an address the browser reaches needs no checks of its own (RFC 8445 §2.5).
        config.ice.lite = true;
        let mut conn = PeerConnection::new(config, self.rng.fork());
        let err = |e: pc::Error| e.to_string();
        conn.add_local_host(now, self.local).map_err(err)?;
        conn.end_of_local_candidates(now);
        conn.set_remote_description(now, &Description::offer(offer)).map_err(err)?;
        let offered: Vec<(pc::TransceiverId, MediaKind)> =
            conn.transceivers().filter(|t| !t.is_stopping()).map(|t| (t.id(), t.kind())).collect();
        let mut taken = Vec::new();
        for (id, kind) in offered {
            // One track of each kind: the first transceiver of the kind.
            if taken.contains(&kind) {
                continue;
            }
            taken.push(kind);
            conn.set_codec_preferences(id, &self.codecs(kind, role)).map_err(err)?;
            if role == Role::Viewer {
                conn.add_track(now, Track::new(kind, format!("broadcast-{kind}")), &["broadcast"]).map_err(err)?;
            }
        }
        let answer = conn.create_answer().map_err(err)?;
        conn.set_local_description(now, &answer).map_err(err)?;
        // What was negotiated, per kind: the first transceiver that has codecs.
        let negotiated: Vec<(String, MediaKind, Vec<Codec>)> = conn
            .transceivers()
            .filter(|t| !t.codecs().is_empty() && !t.is_stopping())
            .filter_map(|t| Some((t.mid()?.to_string(), t.kind(), t.codecs().to_vec())))
            .fold(Vec::new(), |mut v, n| {
                if !v.iter().any(|(_, k, _)| *k == n.1) {
                    v.push(n);
                }
                v
            });
        if negotiated.is_empty() {
            return Err("the offer has no audio or video this server can forward".to_string());
        }
        let key = self.router.insert(now, conn).map_err(|e| e.to_string())?;
        let summary: Vec<String> = negotiated
            .iter()
            .map(|(mid, kind, codecs)| {
                let names: Vec<&str> = codecs.iter().map(|c| &*c.name).collect();
                format!("{kind} on mid {mid} ({})", names.join(", "))
            })
            .collect();
        match role {
            Role::Publisher => {
                self.publishers += 1;
                self.generations = self.generations.wrapping_add(1);
                let name = format!("publisher{}", self.publishers);
                println!("{name}: offer answered: {}", summary.join("; "));
                let tracks = negotiated
                    .into_iter()
                    .map(|(mid, kind, codecs)| PubTrack {
                        mid,
                        kind,
                        codecs,
                        limiter: RequestLimiter::new(KEYFRAME_REQUEST_INTERVAL),
                        reorder: Reorder::new(match kind {
                            MediaKind::Audio => Duration::ZERO,
                            MediaKind::Video => self.options.reorder_wait,
                        }),
                    })
                    .collect();
                let new = Publisher {
                    key,
                    name,
                    generation: self.generations,
                    tracks,
                    packets: 0,
                    repaired: 0,
                    padding: 0,
                    late: 0,
                    lost: 0,
                };
                if let Some(old) = self.publisher.replace(new) {
                    println!("{}: replaced by a new publisher; closing", old.name);
                    self.router.update(now, old.key, |pc| pc.close(now));
                    // Reaped soon (closed): a few at most.
                    self.replaced.truncate(8);
                    self.replaced.push((old.key, old.name));
                }
                // Every viewer's video waits for the new publisher's key frame.
                for v in self.viewers.values_mut() {
                    if let Some(gate) = v.video.as_mut().and_then(|o| o.gate.as_mut()) {
                        gate.close();
                    }
                }
            }
            Role::Viewer => {
                self.viewers_seen += 1;
                let name = format!("viewer{}", self.viewers_seen);
                println!("{name}: offer answered: {}; {} viewers", summary.join("; "), self.viewers.len() + 1);
                let mut viewer =
                    Viewer { name, connected: false, audio: None, video: None, requests_for: 0, requests_of: 0 };
                for (mid, kind, codecs) in negotiated {
                    let clock_rate = codecs.first().map_or(90_000, |c| c.clock_rate);
                    let out = Out {
                        mid,
                        codecs,
                        timeline: Timeline::new(clock_rate),
                        gate: (kind == MediaKind::Video).then(KeyframeGate::default),
                        mapped: Vec::new(),
                        forwarded: 0,
                        unmapped: 0,
                        refused: 0,
                    };
                    match kind {
                        MediaKind::Audio => viewer.audio = Some(out),
                        MediaKind::Video => viewer.video = Some(out),
                    }
                }
                self.viewers.insert(key, viewer);
            }
        }
        Ok(answer.sdp)
    }

    /// Routes one received datagram to its connection.
    pub fn receive(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let datagram = Datagram { source: from, destination: self.local, contents: data };
        if let Err(RouteError::NotMine) = self.router.handle_receive(now, datagram) {
            self.unmatched += 1;
        }
    }

    /// The earliest deadline: a connection's, or a held key-frame request's.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let tracks = self.publisher.iter().flat_map(|p| &p.tracks);
        let held = tracks.flat_map(|t| [t.limiter.poll_timeout(), t.reorder.poll_timeout()]).flatten().min();
        [self.router.poll_timeout(), held].into_iter().flatten().min()
    }

    /// Runs what is due at `now`: the connections' timers, held key-frame requests, and packets that
    /// waited long enough for one lost before them.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.router.poll_timeout().is_some_and(|t| t <= now) {
            self.router.handle_timeout(now);
        }
        let Some(p) = self.publisher.as_mut() else { return };
        for t in &mut p.tracks {
            t.reorder.handle_timeout(now);
        }
        for i in 0..p.tracks.len() {
            self.release(now, i);
        }
        let Some(p) = self.publisher.as_mut() else { return };
        for t in &mut p.tracks {
            if t.limiter.handle_timeout(now) {
                let sent = self.router.update(now, p.key, |pc| pc.request_keyframe(now, &t.mid));
                println!(
                    "{}: key-frame request sent on mid {} after the rate limit held it ({:?})",
                    p.name,
                    t.mid,
                    sent.map(|r| r.map_err(|e| e.to_string()))
                );
            }
        }
    }

    /// Every datagram the connections owe, to `send`.
    pub fn drain_transmits(&mut self, mut send: impl FnMut(&[u8], SocketAddr)) {
        while let Some((_, t)) = self.router.poll_transmit() {
            send(t.contents, t.destination);
        }
    }

    /// Handles every event the connections have (forwarding media, passing key-frame requests on,
    /// forgetting connections reaped). Then drain the transmits again.
    pub fn drain_events(&mut self, now: Instant) {
        while let Some((key, event)) = self.router.poll_event() {
            match event {
                router::Event::Connection(ev) => self.event(now, key, ev),
                router::Event::Reaped(reason) => self.reaped(key, reason),
            }
        }
    }

    fn reaped(&mut self, key: Key, reason: router::Reason) {
        if self.publisher.as_ref().is_some_and(|p| p.key == key) {
            if let Some(p) = self.publisher.take() {
                let requests: u64 = p.tracks.iter().map(|t| t.limiter.sent).sum();
                let merged: u64 = p.tracks.iter().map(|t| t.limiter.merged).sum();
                println!(
                    "{}: gone ({reason:?}): {} packets forwarded ({} repaired, {} padding skipped, {} late not \
                     forwarded, {} video packets lost); {} key-frame requests sent to it, {} merged \
                     by the rate limit",
                    p.name,
                    p.packets,
                    p.repaired,
                    p.padding,
                    p.late(),
                    p.lost,
                    requests,
                    merged
                );
            }
        } else if let Some(i) = self.replaced.iter().position(|(k, _)| *k == key) {
            let (_, name) = self.replaced.swap_remove(i);
            println!("{name}: gone ({reason:?})");
        } else if let Some(v) = self.viewers.remove(&key) {
            let count = |o: &Option<Out>| o.as_ref().map_or((0, 0, 0), |o| (o.forwarded, o.unmapped, o.refused));
            let (a, v_) = (count(&v.audio), count(&v.video));
            let waited = v.video.as_ref().and_then(|o| o.gate.as_ref()).map_or(0, |g| g.dropped);
            println!(
                "{}: gone ({reason:?}): {} audio and {} video packets forwarded, {} video packets before a key \
                 frame, {} of formats it lacks, {} refused; key-frame requests on its behalf {}, of its own {}; \
                 {} viewers",
                v.name,
                a.0,
                v_.0,
                waited,
                a.1 + v_.1,
                a.2 + v_.2,
                v.requests_for,
                v.requests_of,
                self.viewers.len()
            );
        }
    }

    fn event(&mut self, now: Instant, key: Key, ev: Event) {
        let is_publisher = self.publisher.as_ref().is_some_and(|p| p.key == key);
        match ev {
            Event::Rtp(packet) if is_publisher => self.take(now, packet),
            Event::ConnectionState(state) => {
                let name = self.name(key);
                println!("{name}: connection {state:?}");
                if state == ConnectionState::Connected && !is_publisher {
                    if let Some(v) = self.viewers.get_mut(&key) {
                        v.connected = true;
                    }
                    // Its decoder needs a key frame: ask the publisher on its behalf.
                    self.ask_for(now, key, "joined");
                }
            }
            Event::KeyframeRequest { mid, kind, .. } if !is_publisher => {
                let Some(v) = self.viewers.get_mut(&key) else { return };
                if v.video.as_ref().is_none_or(|o| o.mid != mid.as_str()) {
                    return;
                }
                v.requests_of += 1;
                let name = v.name.clone();
                let outcome = self.pass_on(now);
                println!("{name}: its {kind:?} passed on to the publisher: {outcome}");
            }
            Event::Track { mid, kind, .. } if is_publisher => {
                let name = self.name(key);
                println!("{name}: sends {kind} on mid {mid}");
            }
            _ => {}
        }
    }

    fn name(&self, key: Key) -> String {
        match (&self.publisher, self.viewers.get(&key)) {
            (Some(p), _) if p.key == key => p.name.clone(),
            (_, Some(v)) => v.name.clone(),
            _ => match self.replaced.iter().find(|(k, _)| *k == key) {
                Some((_, name)) => name.clone(),
                None => format!("connection {key}"),
            },
        }
    }

    /// A key-frame request to the publisher's video through its rate limit; says what became of it.
    fn pass_on(&mut self, now: Instant) -> String {
        let Some(p) = self.publisher.as_mut() else { return "no publisher".to_string() };
        let (pkey, pname) = (p.key, p.name.clone());
        let Some(t) = p.video() else { return format!("{pname} sends no video") };
        match t.limiter.request(now) {
            Limited::Send => {
                let mid = t.mid.clone();
                match self.router.update(now, pkey, |pc| pc.request_keyframe(now, &mid)) {
                    Some(Ok(())) => format!("sent to {pname}"),
                    Some(Err(e)) => format!("not sent to {pname}: {e}"),
                    None => format!("{pname} is gone"),
                }
            }
            Limited::Held => format!("held by the rate limit, one request for all goes to {pname} within 500 ms"),
        }
    }

    /// A request on viewer `key`'s behalf (`why`: it joined, its video waits for a key frame).
    fn ask_for(&mut self, now: Instant, key: Key, why: &str) {
        if self.publisher.is_none() {
            return;
        }
        let Some(v) = self.viewers.get_mut(&key) else { return };
        let Some(gate) = v.video.as_mut().and_then(|o| o.gate.as_mut()) else { return };
        gate.asked(now);
        v.requests_for += 1;
        let name = v.name.clone();
        let outcome = self.pass_on(now);
        println!("{name}: key-frame request on its behalf ({why}): {outcome}");
    }

    /// Takes one packet of the publisher into its track's [`Reorder`] and forwards what that releases.
    fn take(&mut self, now: Instant, packet: RtpPacket) {
        let Some(p) = self.publisher.as_mut() else { return };
        let Some(i) = p.tracks.iter().position(|t| t.mid == packet.mid.as_str()) else { return };
        if packet.rtx {
            // An RTX packet the connection could not restore (its stream was not signalled): its
            // original's place in the order is unknown, so it goes nowhere.
            p.late += 1;
            return;
        }
        if packet.repaired {
            p.repaired += 1;
        }
        // Every packet goes through the order, padding too (it takes sequence numbers).
        if let Some(t) = p.tracks.get_mut(i) {
            t.reorder.push(now, packet.ssrc, packet.sequence_number, packet);
        }
        self.release(now, i);
    }

    /// Forwards what track `i`'s [`Reorder`] released, in order; a packet given up on makes the viewers'
    /// video wait for a key frame.
    fn release(&mut self, now: Instant, i: usize) {
        loop {
            let Some(p) = self.publisher.as_mut() else { return };
            let Some(t) = p.tracks.get_mut(i) else { return };
            match t.reorder.poll() {
                Some(Release::Packet(packet)) => self.forward(now, i, &packet),
                Some(Release::Lost(missing)) if t.kind == MediaKind::Video => self.lost(now, i, missing),
                Some(Release::Lost(missing)) => p.lost += missing,
                None => return,
            }
        }
    }

    /// `missing` video packets of track `i` will not come: the frame they were part of cannot be
    /// decoded, so every viewer's video waits for the next key frame, requested once for all of them.
    fn lost(&mut self, now: Instant, i: usize, missing: u64) {
        let Some(p) = self.publisher.as_mut() else { return };
        p.lost += missing;
        for v in self.viewers.values_mut() {
            if let Some(gate) = v.video.as_mut().and_then(|o| o.gate.as_mut()) {
                gate.close();
                gate.asked(now);
            }
        }
        let Some(t) = p.tracks.get_mut(i) else { return };
        let outcome = match t.limiter.request(now) {
            Limited::Send => match self.router.update(now, p.key, |pc| pc.request_keyframe(now, &t.mid)) {
                Some(Ok(())) => "key-frame request sent",
                _ => "key-frame request failed",
            },
            Limited::Held => "key-frame request held by the rate limit",
        };
        println!("{}: {missing} video packets lost on the way; the viewers wait for a key frame ({outcome})", p.name);
    }

    /// Forwards one packet of the publisher's track `i`, in order, to every viewer.
    fn forward(&mut self, now: Instant, i: usize, packet: &RtpPacket) {
        let Sfu { publisher, viewers, router, .. } = self;
        let Some(Publisher { name, tracks, generation, packets, padding, .. }) = publisher.as_mut() else {
            return;
        };
        let Some(track) = tracks.get(i) else { return };
        let payload = packet.payload();
        let Some(codec) = track.codecs.iter().find(|c| c.payload_type == packet.payload_type) else { return };
        if payload.is_empty() {
            *padding += 1;
            return;
        }
        *packets += 1;
        let kind = track.kind;
        let generation = *generation;
        let source = (u64::from(generation) << 32) | u64::from(packet.ssrc);
        let keyframe = kind == MediaKind::Video && starts_keyframe(codec, payload);
        // The extensions worth carrying over; the viewer's connection adds its own MID, sequence numbers
        // and transport-wide numbers.
        let extensions: SmallVec<[ExtensionValue<'_>; 4]> = packet
            .extensions()
            .filter(|e| {
                matches!(
                    e,
                    ExtensionValue::AudioLevel { .. }
                        | ExtensionValue::VideoOrientation { .. }
                        | ExtensionValue::PlayoutDelay { .. }
                )
            })
            .collect();
        let mut waiting = Vec::new();
        for (&vkey, v) in viewers.iter_mut() {
            if !v.connected {
                continue;
            }
            let out = match kind {
                MediaKind::Audio => v.audio.as_mut(),
                MediaKind::Video => v.video.as_mut(),
            };
            let Some(out) = out else { continue };
            let Some(payload_type) = out.payload_type(generation, codec) else {
                out.unmapped += 1;
                continue;
            };
            if let Some(gate) = out.gate.as_mut() {
                let was_open = gate.is_open();
                if !gate.pass(keyframe) {
                    if gate.wants_request(now) {
                        waiting.push(vkey);
                    }
                    continue;
                }
                if !was_open {
                    println!("{}: video from a key frame of {name} on", v.name);
                }
            }
            let timestamp = out.timeline.rewrite(now, source, packet.timestamp);
            let rtp = OutgoingRtp {
                marker: packet.marker,
                extensions: &extensions,
                ..OutgoingRtp::new(payload_type, timestamp, payload)
            };
            match router.update(now, vkey, |pc| pc.write_rtp(now, &out.mid, &rtp)) {
                Some(Ok(_)) => out.forwarded += 1,
                _ => out.refused += 1,
            }
        }
        for vkey in waiting {
            self.ask_for(now, vkey, "its video waits for a key frame");
        }
    }

    /// The counts, as JSON: the publisher, each viewer, the key-frame requests.
    pub fn stats_json(&self) -> String {
        let mut s = String::from("{");
        match &self.publisher {
            Some(p) => {
                let _ = write!(
                    s,
                    "\"publisher\":{{\"name\":\"{}\",\"packets\":{},\"repaired\":{},\"late\":{},\"lost\":{},\
                     \"tracks\":[",
                    p.name,
                    p.packets,
                    p.repaired,
                    p.late(),
                    p.lost
                );
                for (i, t) in p.tracks.iter().enumerate() {
                    let _ = write!(
                        s,
                        "{}{{\"mid\":\"{}\",\"kind\":\"{}\",\"keyframeRequestsSent\":{},\"keyframeRequestsMerged\":{}}}",
                        if i > 0 { "," } else { "" },
                        t.mid,
                        t.kind,
                        t.limiter.sent,
                        t.limiter.merged
                    );
                }
                s.push_str("]},");
            }
            None => s.push_str("\"publisher\":null,"),
        }
        s.push_str("\"viewers\":[");
        let mut viewers: Vec<&Viewer> = self.viewers.values().collect();
        viewers.sort_by(|a, b| a.name.cmp(&b.name));
        for (i, v) in viewers.iter().enumerate() {
            let n = |o: &Option<Out>| o.as_ref().map_or(0, |o| o.forwarded);
            let gate = v.video.as_ref().and_then(|o| o.gate.as_ref());
            let _ = write!(
                s,
                "{}{{\"name\":\"{}\",\"connected\":{},\"audioForwarded\":{},\"videoForwarded\":{},\
                 \"videoOpen\":{},\"keyframeRequestsForIt\":{},\"keyframeRequestsOfIt\":{}}}",
                if i > 0 { "," } else { "" },
                v.name,
                v.connected,
                n(&v.audio),
                n(&v.video),
                gate.is_some_and(KeyframeGate::is_open),
                v.requests_for,
                v.requests_of
            );
        }
        let _ = write!(s, "],\"unmatched\":{}}}", self.unmatched);
        s
    }

    /// Closes every connection (then drain the transmits).
    pub fn close_all(&mut self, now: Instant) {
        let keys: Vec<Key> = self.router.keys().collect();
        for key in keys {
            self.router.update(now, key, |pc| pc.close(now));
        }
    }
}
