//! STUN: encode, and decode + MESSAGE-INTEGRITY + FINGERPRINT check, of an ICE connectivity check (binding
//! request with USERNAME, PRIORITY, ICE-CONTROLLING, MESSAGE-INTEGRITY, FINGERPRINT), next to `stun-types`.
//!
//! Both sides do the same work: the same attributes; keys derived once outside the loop (sansrtc's `Key`
//! and stun-types' cached `IntegrityKey`); writing into a reused buffer; on decode, the fingerprint and
//! HMAC-SHA1 checked and USERNAME, PRIORITY and ICE-CONTROLLING read out. stun-types has no ICE attribute
//! types, so PRIORITY and ICE-CONTROLLING are raw attributes there (written and read by hand, as cheap as
//! it gets); sansrtc reads them with its typed getters. Each side looks the three attributes up by type.

use std::hint::black_box;

use sansrtc::stun::{Attribute, Key, Message, MessageBuilder, MessageType, TransactionId};
use sansrtc_interop::bench::{compare, measure};
use stun_types::attribute::{AttributeType as StAttrType, RawAttribute, Username};
use stun_types::message::{
    BINDING, IntegrityAlgorithm, Message as StMessage, MessageWrite, MessageWriteExt, MessageWriteMutSlice,
    ShortTermCredentials,
};

const USERNAME: &str = "evtj:h6vY";
const PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";
const PRIORITY: u32 = 0x6e00_01ff;
const TIE_BREAKER: u64 = 0x932f_f9b1_5126_3b36;
const ID: [u8; 12] = [0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae];

fn sansrtc_encode(key: &Key, out: &mut Vec<u8>) -> usize {
    out.clear();
    let Ok(mut b) = MessageBuilder::new(out, MessageType::BINDING_REQUEST, TransactionId(ID)) else { return 0 };
    let ok = b.add(Attribute::Username(USERNAME)).is_ok()
        && b.add(Attribute::Priority(PRIORITY)).is_ok()
        && b.add(Attribute::IceControlling(TIE_BREAKER)).is_ok()
        && b.message_integrity(key).is_ok()
        && b.fingerprint().is_ok();
    if ok { b.finish() } else { 0 }
}

fn sansrtc_decode(key: &Key, bytes: &[u8]) -> Option<(usize, u32, u64)> {
    let msg = Message::new_checked(bytes).ok()?;
    msg.verify_fingerprint().ok()?;
    msg.verify_integrity(key).ok()?;
    let user = msg.username()?;
    let priority = msg.priority()?;
    let (true, tie) = msg.ice_role()? else { return None };
    Some((user.len(), priority, tie))
}

fn stun_types_encode(key: &stun_types::message::IntegrityKey, out: &mut [u8]) -> usize {
    let mut msg = StMessage::builder(
        stun_types::message::MessageType::from_class_method(stun_types::message::MessageClass::Request, BINDING),
        u128::from_be_bytes({
            let mut b = [0; 16];
            b[4..].copy_from_slice(&ID);
            b
        })
        .into(),
        MessageWriteMutSlice::new(out),
    );
    let Ok(user) = Username::new(USERNAME) else { return 0 };
    let priority = PRIORITY.to_be_bytes();
    let tie = TIE_BREAKER.to_be_bytes();
    let ok = msg.add_attribute(&user).is_ok()
        && msg.add_attribute(&RawAttribute::new(StAttrType::new(0x0024), &priority)).is_ok()
        && msg.add_attribute(&RawAttribute::new(StAttrType::new(0x802A), &tie)).is_ok()
        && msg.add_message_integrity_with_key(key, IntegrityAlgorithm::Sha1).is_ok()
        && msg.add_fingerprint().is_ok();
    if ok { msg.finish() } else { 0 }
}

fn stun_types_decode(key: &stun_types::message::IntegrityKey, bytes: &[u8]) -> Option<(usize, u32, u64)> {
    // from_bytes checks FINGERPRINT when present.
    let msg = StMessage::from_bytes(bytes).ok()?;
    msg.validate_integrity_with_key(key).ok()?;
    let user = msg.attribute::<Username>().ok()?;
    let priority = msg.raw_attribute(StAttrType::new(0x0024))?;
    let priority = u32::from_be_bytes(priority.value.get(..4)?.try_into().ok()?);
    let tie = msg.raw_attribute(StAttrType::new(0x802A))?;
    let tie = u64::from_be_bytes(tie.value.get(..8)?.try_into().ok()?);
    Some((user.username().len(), priority, tie))
}

fn main() {
    let key = Key::short_term(PASSWORD);
    let st_key = ShortTermCredentials::new(PASSWORD.to_owned()).make_key();

    // Both encoders produce the same message, and each decoder accepts the other's output.
    let mut ours = Vec::with_capacity(256);
    let n = sansrtc_encode(&key, &mut ours);
    let mut theirs = [0u8; 256];
    let m = stun_types_encode(&st_key, &mut theirs);
    assert!(n > 0 && m > 0);
    assert_eq!(&ours[..n], &theirs[..m], "both sides must encode the same bytes");
    let expected = Some((USERNAME.len(), PRIORITY, TIE_BREAKER));
    assert_eq!(sansrtc_decode(&key, &theirs[..m]), expected);
    assert_eq!(stun_types_decode(&st_key, &ours[..n]), expected);

    let a = measure(|| sansrtc_encode(&key, black_box(&mut ours)));
    let b = measure(|| stun_types_encode(&st_key, black_box(&mut theirs)));
    compare("stun/encode binding request", a, "stun-types", b);

    let bytes = ours.clone();
    let a = measure(|| sansrtc_decode(&key, black_box(&bytes)));
    let b = measure(|| stun_types_decode(&st_key, black_box(&bytes)));
    compare("stun/decode+integrity+fingerprint", a, "stun-types", b);
}
