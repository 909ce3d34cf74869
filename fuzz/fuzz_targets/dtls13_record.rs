//! DTLS 1.3 records (RFC 9147 §4): the unified header parser over every record of a datagram, with and
//! without a connection ID; record number decryption, sequence number and epoch reconstruction and
//! deprotection with fixed keys; and a seal → parse → open round trip of the input as content. Must never
//! panic; the round trip must give the content back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::dtls::v13::key_schedule::{HashAlg, LabelPrefix, Secret, TrafficKeys};
use sansrtc::dtls::v13::record::{Aead, RecordProtection, UnifiedHeader, reconstruct_epoch, reconstruct_seq};
use sansrtc::dtls::wire::ContentType;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the connection ID length, the AEAD and the expected sequence number.
    let Some((&ctl, data)) = data.split_first() else { return };
    let cid_len = usize::from(ctl & 0x07);
    let aead = match ctl >> 6 {
        0 | 1 => Aead::Aes128Gcm,
        2 => Aead::Aes256Gcm,
        _ => Aead::ChaCha20Poly1305,
    };
    let Ok(secret) = Secret::from_slice(&[ctl; 32]) else { return };
    let Ok(keys) = TrafficKeys::derive(HashAlg::Sha256, LabelPrefix::Dtls13, &secret, aead.key_len()) else { return };
    let Ok(protection) = RecordProtection::new(aead, &keys) else { return };
    let expected = u64::from(ctl) << (ctl & 0x1f);

    let mut rest = data;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let Ok((rec, after)) = UnifiedHeader::parse_prefix(rest, cid_len) else { break };
        assert_eq!(rec.header_bytes.len(), rec.header.len());
        let _ = reconstruct_epoch(expected, rec.header.epoch_bits);
        let _ = reconstruct_seq(expected, rec.header.seq, if rec.header.seq_16 { 16 } else { 8 });
        if protection.open(&rec, expected, &mut out).is_err() {
            assert!(out.is_empty());
        }
        rest = after;
    }

    // Round trip: the input as the content of a record, sealed and opened with the same keys.
    if data.len() <= 1 << 14 {
        let cid = data.get(..cid_len).unwrap_or(&[]);
        let seq = expected & 0xffff_ffff_ffff;
        let mut wire = Vec::new();
        let sealed = protection.seal(
            &mut wire,
            u64::from(ctl),
            seq,
            cid,
            ctl & 0x08 != 0,
            ctl & 0x04 != 0,
            ContentType::APPLICATION_DATA,
            data,
            usize::from(ctl & 0x0f),
        );
        if sealed.is_ok() {
            let parsed = UnifiedHeader::parse_prefix(&wire, cid.len());
            let Ok((rec, after)) = parsed else { panic!("our own record does not parse") };
            assert!(after.is_empty());
            let opened = protection.open(&rec, seq, &mut out);
            assert_eq!(opened.map(|o| (o.content_type, o.seq)), Ok((ContentType::APPLICATION_DATA, seq)));
            assert_eq!(out, data);
        }
    }
});
