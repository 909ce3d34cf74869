//! Arbitrary bytes into the STUN decoder: validate, iterate every attribute, run every check, feed the
//! result to a client transaction; the peer connection's USERNAME lookup for routing too. Nothing may panic,
//! and `is_stun` and the lookup must agree with the decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::Instant;
use sansrtc::stun::{ClientTransaction, Key, Message, TransactionConfig, is_stun};

fuzz_target!(|data: &[u8]| {
    let _ = sansrtc::stun::wire::frame_len(data);
    // The router's lookup on unauthenticated datagrams: the same parser, and it agrees with it.
    let ufrag = sansrtc::pc::stun_username_local_ufrag(data);
    let Ok(msg) = Message::new_checked(data) else {
        assert_eq!(ufrag, None);
        return;
    };
    assert_eq!(ufrag, msg.username().and_then(|u| u.split(':').next()));
    // is_stun keeps to RFC 7983's first-byte range 0..=3; inside it, it agrees with the decoder.
    assert!(is_stun(data) || data[0] >= 4, "decoder accepted what is_stun refused");
    for attribute in msg.attributes() {
        if attribute.is_err() {
            break;
        }
    }
    let _ = msg.raw_attributes().count();
    let _ = msg.unknown_comprehension_required().count();
    let key = Key::short_term("VOkJxbRl1RmTxUk/WvJxBt");
    let _ = msg.verify_fingerprint();
    let _ = msg.verify_integrity(&key);
    let _ = msg.verify_integrity_sha1(&key);
    let _ = msg.verify_integrity_sha256(&key);
    let _ = msg.verify_with(|_| Some(&key));
    let _ = msg.username();
    let mut tx = ClientTransaction::new(TransactionConfig::default());
    if tx.start(Instant::ZERO, data).is_ok() {
        let _ = tx.poll_transmit();
    }
    let _ = tx.handle_response(Instant::from_millis(1), &msg);
});
