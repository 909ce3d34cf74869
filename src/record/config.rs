//! The opening record's configuration: every field of [`pc::Config`](crate::pc::Config), so replay builds
//! the same [`PeerConnection`](crate::pc::PeerConnection). The structs are taken apart without `..`, so a
//! field added to any of them does not compile until it is journaled too.

use alloc::vec::Vec;

use super::wire::{
    JournalError, Reader, put_addr, put_bool, put_bytes, put_duration, put_ip, put_opt, put_str, put_u8, put_u16,
    put_u32, put_u64, put_usize,
};
use crate::dtls::{Certificate, Versions};
use crate::ice::{self, CandidateFilter, Credentials, Nat1To1, Nat1To1Kind};
use crate::pc::{Config, IceTransportPolicy, Setup, TurnConfig};
use crate::sctp;
use crate::stun::TransactionConfig;
use crate::turn::RelayFamily;

/// Caps that are only bounds (queue lengths, counts) may be anything a `u32` holds; a larger value in a
/// journal is taken for corruption.
const MAX_CAP: usize = u32::MAX as usize;
/// SCTP allocates its packet buffer from `mtu` at once: a journal may not ask for more than this.
const MAX_MTU: usize = 1 << 20;
/// At most this many NAT 1:1 mappings and TURN servers in a journal.
const MAX_LIST: u64 = 1024;

pub fn put_config(out: &mut Vec<u8>, config: &Config) {
    let Config {
        ice,
        certificate,
        answer_setup,
        sctp,
        max_message_size,
        max_transmits,
        max_events,
        turn_servers,
        ice_transport_policy,
        key_log,
        dtls_versions,
        codecs,
        header_extensions,
        srtp_profiles,
        media_mtu,
        bandwidth,
        pacer,
        resolve_mdns,
        hide_local_addresses,
        red_distance,
    } = config;
    put_ice(out, ice);
    put_opt(out, certificate.as_ref(), |out, c| {
        put_bytes(out, c.der());
        put_bytes(out, &c.private_key_pkcs8_der());
    });
    put_u8(
        out,
        match answer_setup {
            Setup::Active => 0,
            Setup::Passive => 1,
            Setup::ActPass => 2,
            Setup::HoldConn => 3,
        },
    );
    put_sctp(out, sctp);
    put_u64(out, *max_message_size);
    put_usize(out, *max_transmits);
    put_usize(out, *max_events);
    put_u64(out, turn_servers.len() as u64);
    for t in turn_servers {
        put_turn(out, t);
    }
    put_u8(
        out,
        match ice_transport_policy {
            IceTransportPolicy::All => 0,
            IceTransportPolicy::Relay => 1,
        },
    );
    put_bool(out, *key_log);
    // The mDNS switches in one byte (bit 0: resolve, bit 1: hide), read back by journals that had only
    // the first.
    put_u8(out, u8::from(*resolve_mdns) | u8::from(*hide_local_addresses) << 1);
    put_u8(
        out,
        match dtls_versions {
            Versions::Dtls12 => 0,
            Versions::Dtls13 => 1,
            Versions::Both => 2,
        },
    );
    // The media configuration is not journaled yet: a journal says whether it was the default, and one
    // that was not cannot be replayed (read_config refuses it).
    let defaults = Config::default();
    let media_default = *codecs == defaults.codecs
        && *header_extensions == defaults.header_extensions
        && *srtp_profiles == defaults.srtp_profiles
        && *media_mtu == defaults.media_mtu
        && *bandwidth == defaults.bandwidth
        && *pacer == defaults.pacer
        && *red_distance == defaults.red_distance;
    put_bool(out, media_default);
}

pub fn read_config(r: &mut Reader<'_>) -> Result<Config, JournalError> {
    let ice = read_ice(r)?;
    let at = r.offset();
    let certificate = r.opt("certificate", |r| {
        let der = r.bytes("certificate")?;
        let key = r.bytes("certificate key")?;
        Certificate::from_der(der, key).map_err(|_| JournalError::Corrupt { offset: at, what: "certificate" })
    })?;
    let at = r.clone();
    let answer_setup = match r.u8("answer setup")? {
        0 => Setup::Active,
        1 => Setup::Passive,
        2 => Setup::ActPass,
        3 => Setup::HoldConn,
        _ => return Err(at.corrupt("answer setup")),
    };
    let sctp = read_sctp(r)?;
    let max_message_size = r.u64("max message size")?;
    let max_transmits = r.usize(MAX_CAP, "max transmits")?;
    let max_events = r.usize(MAX_CAP, "max events")?;
    let at = r.clone();
    let n = r.u64("TURN server count")?;
    if n > MAX_LIST {
        return Err(at.corrupt("TURN server count"));
    }
    let mut turn_servers = Vec::new();
    for _ in 0..n {
        turn_servers.push(read_turn(r)?);
    }
    let at = r.clone();
    let ice_transport_policy = match r.u8("ICE transport policy")? {
        0 => IceTransportPolicy::All,
        1 => IceTransportPolicy::Relay,
        _ => return Err(at.corrupt("ICE transport policy")),
    };
    let key_log = r.bool("key log")?;
    let at = r.clone();
    let mdns = r.u8("mDNS switches")?;
    if mdns > 3 {
        return Err(at.corrupt("mDNS switches"));
    }
    let (resolve_mdns, hide_local_addresses) = (mdns & 1 != 0, mdns & 2 != 0);
    let at = r.clone();
    let dtls_versions = match r.u8("DTLS versions")? {
        0 => Versions::Dtls12,
        1 => Versions::Dtls13,
        2 => Versions::Both,
        _ => return Err(at.corrupt("DTLS versions")),
    };
    let at = r.clone();
    if !r.bool("default media configuration")? {
        return Err(at.corrupt("media configuration (only the default is journaled)"));
    }
    let defaults = Config::default();
    Ok(Config {
        codecs: defaults.codecs,
        header_extensions: defaults.header_extensions,
        srtp_profiles: defaults.srtp_profiles,
        media_mtu: defaults.media_mtu,
        bandwidth: defaults.bandwidth,
        pacer: defaults.pacer,
        red_distance: defaults.red_distance,
        ice,
        certificate,
        answer_setup,
        sctp,
        max_message_size,
        max_transmits,
        max_events,
        turn_servers,
        ice_transport_policy,
        key_log,
        dtls_versions,
        resolve_mdns,
        hide_local_addresses,
    })
}

fn put_ice(out: &mut Vec<u8>, c: &ice::Config) {
    let ice::Config {
        role,
        local_credentials,
        lite,
        ta,
        check_rto,
        check_rto_max,
        check_max_transmissions,
        nomination_delay,
        disconnected_timeout,
        failed_timeout,
        keepalive_interval,
        consent_interval,
        consent_timeout,
        candidate_filter,
        nat_1to1,
        nat_1to1_kind,
        max_pairs,
        max_remote_candidates,
        max_local_candidates,
        max_stun_servers,
        gather_max_transmissions,
        max_transmits,
        max_events,
    } = c;
    put_bool(out, *role == ice::Role::Controlled);
    put_opt(out, local_credentials.as_ref(), |out, c| {
        put_str(out, &c.ufrag);
        put_str(out, &c.pwd);
    });
    put_bool(out, *lite);
    for d in [
        ta,
        check_rto,
        check_rto_max,
        nomination_delay,
        disconnected_timeout,
        failed_timeout,
        keepalive_interval,
        consent_interval,
        consent_timeout,
    ] {
        put_duration(out, *d);
    }
    put_u32(out, *check_max_transmissions);
    let CandidateFilter { host, server_reflexive, relay } = candidate_filter;
    for b in [host, server_reflexive, relay] {
        put_bool(out, *b);
    }
    put_u64(out, nat_1to1.len() as u64);
    for Nat1To1 { local, public } in nat_1to1 {
        put_opt(out, *local, put_ip);
        put_ip(out, *public);
    }
    put_bool(out, *nat_1to1_kind == Nat1To1Kind::ServerReflexive);
    for n in [max_pairs, max_remote_candidates, max_local_candidates, max_stun_servers] {
        put_usize(out, *n);
    }
    put_u32(out, *gather_max_transmissions);
    put_usize(out, *max_transmits);
    put_usize(out, *max_events);
}

fn read_ice(r: &mut Reader<'_>) -> Result<ice::Config, JournalError> {
    let role = if r.bool("ICE role")? { ice::Role::Controlled } else { ice::Role::Controlling };
    let local_credentials = r.opt("ICE credentials", |r| {
        // Taken as written: a configuration may hold credentials `Credentials::new` would refuse.
        Ok(Credentials { ufrag: r.string("ICE ufrag")?, pwd: r.string("ICE password")? })
    })?;
    let lite = r.bool("ICE lite")?;
    let mut d = [core::time::Duration::ZERO; 9];
    for d in &mut d {
        *d = r.duration("ICE timer")?;
    }
    let [
        ta,
        check_rto,
        check_rto_max,
        nomination_delay,
        disconnected_timeout,
        failed_timeout,
        keepalive_interval,
        consent_interval,
        consent_timeout,
    ] = d;
    let check_max_transmissions = r.u32("ICE check transmissions")?;
    let candidate_filter = CandidateFilter {
        host: r.bool("candidate filter")?,
        server_reflexive: r.bool("candidate filter")?,
        relay: r.bool("candidate filter")?,
    };
    let at = r.clone();
    let n = r.u64("NAT 1:1 count")?;
    if n > MAX_LIST {
        return Err(at.corrupt("NAT 1:1 count"));
    }
    let mut nat_1to1 = Vec::new();
    for _ in 0..n {
        let local = r.opt("NAT 1:1 local", |r| r.ip("NAT 1:1 local"))?;
        let public = r.ip("NAT 1:1 public")?;
        nat_1to1.push(Nat1To1 { local, public });
    }
    let nat_1to1_kind = if r.bool("NAT 1:1 kind")? { Nat1To1Kind::ServerReflexive } else { Nat1To1Kind::Host };
    let max_pairs = r.usize(MAX_CAP, "ICE max pairs")?;
    let max_remote_candidates = r.usize(MAX_CAP, "ICE max remote candidates")?;
    let max_local_candidates = r.usize(MAX_CAP, "ICE max local candidates")?;
    let max_stun_servers = r.usize(MAX_CAP, "ICE max STUN servers")?;
    let gather_max_transmissions = r.u32("ICE gathering transmissions")?;
    let max_transmits = r.usize(MAX_CAP, "ICE max transmits")?;
    let max_events = r.usize(MAX_CAP, "ICE max events")?;
    Ok(ice::Config {
        role,
        local_credentials,
        lite,
        ta,
        check_rto,
        check_rto_max,
        check_max_transmissions,
        nomination_delay,
        disconnected_timeout,
        failed_timeout,
        keepalive_interval,
        consent_interval,
        consent_timeout,
        candidate_filter,
        nat_1to1,
        nat_1to1_kind,
        max_pairs,
        max_remote_candidates,
        max_local_candidates,
        max_stun_servers,
        gather_max_transmissions,
        max_transmits,
        max_events,
    })
}

fn put_sctp(out: &mut Vec<u8>, c: &sctp::Config) {
    let sctp::Config {
        local_port,
        remote_port,
        mtu,
        max_message_size,
        receive_window,
        send_buffer,
        outbound_streams,
        max_inbound_streams,
        rto_initial,
        rto_min,
        rto_max,
        max_init_retransmits,
        max_retransmits,
        heartbeat_interval,
        cookie_lifetime,
        delayed_ack,
        zero_checksum,
    } = c;
    put_u16(out, *local_port);
    put_u16(out, *remote_port);
    put_usize(out, *mtu);
    put_usize(out, *max_message_size);
    put_u32(out, *receive_window);
    put_usize(out, *send_buffer);
    put_u16(out, *outbound_streams);
    put_u16(out, *max_inbound_streams);
    for d in [rto_initial, rto_min, rto_max] {
        put_duration(out, *d);
    }
    put_u32(out, *max_init_retransmits);
    put_u32(out, *max_retransmits);
    for d in [heartbeat_interval, cookie_lifetime, delayed_ack] {
        put_duration(out, *d);
    }
    put_bool(out, *zero_checksum);
}

fn read_sctp(r: &mut Reader<'_>) -> Result<sctp::Config, JournalError> {
    let at = r.clone();
    let config = sctp::Config {
        local_port: r.u16("SCTP port")?,
        remote_port: r.u16("SCTP port")?,
        mtu: r.usize(MAX_MTU, "SCTP MTU")?,
        max_message_size: r.usize(MAX_CAP, "SCTP max message size")?,
        receive_window: r.u32("SCTP receive window")?,
        send_buffer: r.usize(MAX_CAP, "SCTP send buffer")?,
        outbound_streams: r.u16("SCTP streams")?,
        max_inbound_streams: r.u16("SCTP streams")?,
        rto_initial: r.duration("SCTP timer")?,
        rto_min: r.duration("SCTP timer")?,
        rto_max: r.duration("SCTP timer")?,
        max_init_retransmits: r.u32("SCTP retransmissions")?,
        max_retransmits: r.u32("SCTP retransmissions")?,
        heartbeat_interval: r.duration("SCTP timer")?,
        cookie_lifetime: r.duration("SCTP timer")?,
        delayed_ack: r.duration("SCTP timer")?,
        zero_checksum: r.bool("SCTP zero checksum")?,
    };
    // The association keeps its RTO between the two (RFC 9260 §6.3.1); no recording has them the wrong
    // way round.
    if config.rto_min > config.rto_max {
        return Err(at.corrupt("SCTP RTO.Min above RTO.Max"));
    }
    Ok(config)
}

fn put_turn(out: &mut Vec<u8>, t: &TurnConfig) {
    let TurnConfig {
        server,
        local,
        username,
        password,
        family,
        lifetime,
        max_permissions,
        max_channels,
        transaction,
        pad_channel_data,
    } = t;
    put_addr(out, *server);
    put_addr(out, *local);
    put_str(out, username);
    put_str(out, password);
    put_bool(out, *family == RelayFamily::V6);
    put_duration(out, *lifetime);
    put_usize(out, *max_permissions);
    put_usize(out, *max_channels);
    let TransactionConfig { rto, max_requests, last_wait_multiplier, reliable, reliable_timeout } = transaction;
    put_duration(out, *rto);
    put_u32(out, *max_requests);
    put_u32(out, *last_wait_multiplier);
    put_bool(out, *reliable);
    put_duration(out, *reliable_timeout);
    put_bool(out, *pad_channel_data);
}

fn read_turn(r: &mut Reader<'_>) -> Result<TurnConfig, JournalError> {
    Ok(TurnConfig {
        server: r.addr("TURN server")?,
        local: r.addr("TURN local socket")?,
        username: r.string("TURN username")?,
        password: r.string("TURN password")?,
        family: if r.bool("TURN family")? { RelayFamily::V6 } else { RelayFamily::V4 },
        lifetime: r.duration("TURN lifetime")?,
        max_permissions: r.usize(MAX_CAP, "TURN max permissions")?,
        max_channels: r.usize(MAX_CAP, "TURN max channels")?,
        transaction: TransactionConfig {
            rto: r.duration("TURN transaction")?,
            max_requests: r.u32("TURN transaction")?,
            last_wait_multiplier: r.u32("TURN transaction")?,
            reliable: r.bool("TURN transaction")?,
            reliable_timeout: r.duration("TURN transaction")?,
        },
        pad_channel_data: r.bool("TURN padding")?,
    })
}
