//! Decode, re-encode every attribute that parses with the builder, decode again: the two attribute lists
//! (and type and transaction id) must be identical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::stun::{Attribute, Message, MessageBuilder};

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::new_checked(data) else { return };
    let first: Vec<Attribute<'_>> = msg.attributes().map_while(Result::ok).collect();
    let mut out = Vec::new();
    let mut builder = MessageBuilder::new(&mut out, msg.typ(), msg.transaction_id()).expect("header");
    for attribute in &first {
        builder.add(*attribute).expect("a decoded attribute must re-encode");
    }
    builder.finish();
    let again = Message::new_checked(&out[..]).expect("the re-encoding must decode");
    assert_eq!(again.typ(), msg.typ());
    assert_eq!(again.transaction_id(), msg.transaction_id());
    let second: Vec<Attribute<'_>> = again.attributes().collect::<Result<_, _>>().expect("every attribute parses");
    assert_eq!(first, second);
});
