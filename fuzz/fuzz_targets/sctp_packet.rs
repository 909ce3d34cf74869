//! SCTP packet decoding: header, every chunk, and every list inside them; DCEP messages too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::datachannel::wire::Dcep;
use sansrtc::sctp::wire::{Chunk, Packet, Params, ReconfigParam};

fuzz_target!(|data: &[u8]| {
    let _ = Dcep::parse(data);
    let Ok(p) = Packet::new_checked(data) else { return };
    let _ = (p.source_port(), p.destination_port(), p.verification_tag(), p.checksum_ok());
    for raw in p.chunks() {
        let Ok(raw) = raw else { break };
        let Ok(chunk) = Chunk::parse(raw) else { continue };
        match chunk {
            Chunk::Init(i) | Chunk::InitAck(i) => i.params().for_each(drop),
            Chunk::Sack(s) => {
                s.gap_blocks().for_each(drop);
                s.duplicate_tsns().for_each(drop);
            }
            Chunk::ForwardTsn(f) => f.streams().for_each(drop),
            Chunk::Abort { causes, .. } | Chunk::Error(causes) => causes.for_each(drop),
            Chunk::Reconfig(params) => {
                for p in params.flatten() {
                    if let Ok(ReconfigParam::OutgoingReset { streams, .. }) = ReconfigParam::parse(p) {
                        streams.for_each(drop);
                    }
                }
            }
            Chunk::Heartbeat(v) | Chunk::HeartbeatAck(v) => Params::new(v).for_each(drop),
            _ => {}
        }
    }
});
