//! sansrtc's STUN codec against `stun-types`: each side decodes and verifies what the other wrote.

use sansrtc::stun::{Attribute, Class, ErrorCode, Key, Message, MessageBuilder, MessageType, Method, TransactionId};
use stun_types::attribute::{ErrorCode as StErrorCode, Software, Username, XorMappedAddress};
use stun_types::message::{
    BINDING, IntegrityAlgorithm, LongTermKeyCredentials, Message as StMessage, MessageClass,
    MessageIntegrityCredentials, MessageType as StMessageType, MessageWrite, MessageWriteExt, MessageWriteVec,
    ShortTermCredentials,
};

const ID: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

fn st_id() -> stun_types::message::TransactionId {
    let mut b = [0; 16];
    b[4..].copy_from_slice(&ID);
    u128::from_be_bytes(b).into()
}

#[test]
fn stun_types_reads_our_success_response() {
    let key = Key::short_term("pass");
    let addr = "[2001:db8::42]:61000".parse().unwrap();
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(&mut out, MessageType::BINDING_SUCCESS, TransactionId(ID)).unwrap();
    b.add(Attribute::Software("sansrtc")).unwrap();
    b.add(Attribute::XorMappedAddress(addr)).unwrap();
    b.message_integrity(&key).unwrap();
    b.fingerprint().unwrap();
    b.finish();

    let msg = StMessage::from_bytes(&out).expect("stun-types parses it and checks FINGERPRINT");
    assert!(msg.has_class(MessageClass::Success));
    let creds: MessageIntegrityCredentials = ShortTermCredentials::new("pass".into()).into();
    assert_eq!(msg.validate_integrity(&creds).unwrap(), IntegrityAlgorithm::Sha1);
    let xor = msg.attribute::<XorMappedAddress>().unwrap();
    assert_eq!(xor.addr(msg.transaction_id()), addr);
    assert_eq!(msg.attribute::<Software>().unwrap().software(), "sansrtc");
}

#[test]
fn we_read_stun_types_long_term_sha256_error_response() {
    let creds = LongTermKeyCredentials::new("user".into(), "secret".into(), "realm.example".into());
    let mut msg = StMessage::builder(
        StMessageType::from_class_method(MessageClass::Error, BINDING),
        st_id(),
        MessageWriteVec::new(),
    );
    msg.add_attribute(&Username::new("user").unwrap()).unwrap();
    msg.add_attribute(&StErrorCode::new(438, "Stale Nonce").unwrap()).unwrap();
    let creds: MessageIntegrityCredentials = creds.into();
    msg.add_message_integrity(&creds, IntegrityAlgorithm::Sha256).unwrap();
    msg.add_fingerprint().unwrap();
    let bytes = msg.finish();

    let ours = Message::new_checked(&bytes[..]).expect("we parse it");
    assert_eq!(ours.typ(), MessageType::new(Method::BINDING, Class::Error));
    assert_eq!(ours.transaction_id(), TransactionId(ID));
    assert_eq!(ours.error_code(), Some(ErrorCode { code: 438, reason: "Stale Nonce" }));
    ours.verify_fingerprint().unwrap();
    // stun-types keys MESSAGE-INTEGRITY-SHA256 with SHA-256(username:realm:password), the key of the
    // SHA-256 password algorithm (RFC 8489 §9.2.2).
    assert!(ours.has_integrity_sha256());
    ours.verify_integrity(&Key::long_term_sha256("user", "realm.example", "secret")).unwrap();
    assert!(ours.verify_integrity(&Key::long_term_sha256("user", "realm.example", "wrong")).is_err());
    assert!(ours.verify_integrity(&Key::long_term("user", "realm.example", "secret")).is_err());
}
