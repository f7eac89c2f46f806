//! The value parsers of src/model/types: ports (short syntax and ranges), durations and byte
//! sizes. The first byte picks the parser, so one target covers all three.
#![no_main]

use compose::model::types::bytes::ByteSize;
use compose::model::types::duration::Duration;
use compose::model::types::ports;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 3 {
        0 => {
            let _ = ports::parse_short(text);
            let _ = ports::parse_port_range(text);
        }
        1 => {
            if let Ok(d) = text.parse::<Duration>() {
                let _ = d.to_string();
            }
        }
        _ => {
            if let Ok(b) = text.parse::<ByteSize>() {
                let _ = b.to_string();
            }
        }
    }
});
