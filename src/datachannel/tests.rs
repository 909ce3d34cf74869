use alloc::vec::Vec;

use super::wire::{Dcep, MSG_ACK, MSG_OPEN, channel_type};
use super::*;

#[test]
fn dcep_open_round_trip_matches_rfc_layout() {
    let open = Dcep::Open {
        channel_type: channel_type::REXMIT_UNORDERED,
        priority: 512,
        reliability: 3,
        label: "chat",
        protocol: "x",
    };
    let mut buf = Vec::new();
    open.emit(&mut buf).unwrap();
    // RFC 8832 §5.1: type, channel type, priority, reliability, label length, protocol length, label, protocol.
    assert_eq!(buf, [MSG_OPEN, 0x81, 2, 0, 0, 0, 0, 3, 0, 4, 0, 1, b'c', b'h', b'a', b't', b'x']);
    assert_eq!(Dcep::parse(&buf), Ok(open));
    let mut ack = Vec::new();
    Dcep::Ack.emit(&mut ack).unwrap();
    assert_eq!(ack, [MSG_ACK]);
    assert_eq!(Dcep::parse(&ack), Ok(Dcep::Ack));
}

#[test]
fn dcep_bad_lengths_are_errors() {
    for bad in [&[][..], &[MSG_OPEN][..], &[MSG_OPEN, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0][..], &[9][..]] {
        assert_eq!(Dcep::parse(bad), Err(Error::BadDcep));
    }
    // Protocol length past the end.
    assert_eq!(Dcep::parse(&[MSG_OPEN, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, b'a', b'b']), Err(Error::BadDcep));
}

#[test]
fn channel_types_map_to_reliability() {
    let mut o = ChannelOptions::new("a");
    o.ordered = false;
    o.reliability = Reliability::MaxLifetime(Duration::from_millis(250));
    assert_eq!(channel_type_of(&o), (channel_type::TIMED_UNORDERED, 250));
    assert_eq!(reliability_of(channel_type::TIMED_UNORDERED, 250), o.reliability);
    assert_eq!(reliability_of(channel_type::REXMIT, 2), Reliability::MaxRetransmits(2));
    assert_eq!(reliability_of(channel_type::RELIABLE_UNORDERED, 9), Reliability::Reliable);
}
