//! RTP parsing: arbitrary bytes into the packet view, extension iterator, typed decoding and re-emission.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sansrtc::rtp::{ExtensionKind, ExtensionMap, Packet, Repr};

fuzz_target!(|data: &[u8]| {
    let mut map = ExtensionMap::new();
    for (i, kind) in ExtensionKind::ALL.into_iter().enumerate() {
        map.insert(i as u8 + 1, kind);
        map.insert(i as u8 + 20, kind);
    }
    if let Ok(p) = Packet::new_checked(data) {
        for e in p.extensions().flatten() {
            let _ = map.decode(e);
        }
        for kind in ExtensionKind::ALL {
            let _ = p.extension_value(&map, kind);
        }
        let _ = (p.payload(), p.csrcs().count(), p.padding_len());
        let repr = Repr::parse(&p);
        let mut out = Vec::new();
        if repr.emit(&mut out).is_ok() && repr.extension.is_none_or(|(_, d)| d.len() % 4 == 0) {
            assert_eq!(out, data, "parse -> emit is exact");
        }
    }
});
