//! Decoding and verifying a binding request allocates nothing: a counting global allocator
//! (`stats_alloc`'s instrumented wrapper around the system allocator) watches the call.
//!
//! This file holds a single test so that no other test thread allocates while it measures.

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

use sansrtc::stun::{Attribute, Class, Key, Message, MessageBuilder, MessageType, TransactionId};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// RFC 5769 §2.1, the sample ICE connectivity check.
fn sample_request() -> Vec<u8> {
    let text = include_str!("../vectors/rfc5769/sample-request.hex");
    let digits: Vec<u8> =
        text.lines().filter(|l| !l.starts_with('#')).flat_map(str::bytes).filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
}

/// What an ICE agent does with a connectivity check: validate, check FINGERPRINT and MESSAGE-INTEGRITY for
/// the USERNAME, read every attribute.
fn decode_and_verify(bytes: &[u8], key: &Key) -> (u32, usize) {
    let msg = Message::new_checked(bytes).expect("valid");
    msg.verify_with(|user| (user == "evtj:h6vY").then_some(key)).expect("verified");
    let mut priority = 0;
    let mut count = 0;
    for attribute in msg.attributes() {
        if let Attribute::Priority(p) = attribute.expect("attribute") {
            priority = p;
        }
        count += 1;
    }
    (priority, count)
}

#[test]
fn decode_verify_and_answer_allocate_nothing() {
    let bytes = sample_request();
    let key = Key::short_term("VOkJxbRl1RmTxUk/WvJxBt");
    let mut out = Vec::with_capacity(256);

    // The counter works: one deliberate allocation is seen.
    let probe = Region::new(GLOBAL);
    let boxed = core::hint::black_box(Box::new(7u64));
    assert_eq!(probe.change().allocations, 1);
    drop(boxed);

    let region = Region::new(GLOBAL);
    let (priority, count) = decode_and_verify(&bytes, &key);
    // The answer, written into a buffer that already has room.
    let msg = Message::new_checked(&bytes[..]).expect("valid");
    let mut b =
        MessageBuilder::new(&mut out, msg.typ().with_class(Class::Success), msg.transaction_id()).expect("header");
    b.add(Attribute::XorMappedAddress("192.0.2.1:32853".parse().expect("addr"))).expect("add");
    b.message_integrity(&key).expect("mi");
    b.fingerprint().expect("fp");
    let len = b.finish();
    let stats = region.change();

    assert_eq!((priority, count), (0x6e0001ff, 6));
    assert_eq!(len, 20 + 12 + 24 + 8);
    assert_eq!(MessageType::BINDING_SUCCESS, Message::new_checked(&out[..]).expect("valid").typ());
    assert_eq!(
        TransactionId([0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae]),
        msg.transaction_id()
    );
    assert_eq!(stats.allocations, 0, "decode + verify + answer allocated: {stats:?}");
    assert_eq!(stats.reallocations, 0, "decode + verify + answer reallocated: {stats:?}");
}
