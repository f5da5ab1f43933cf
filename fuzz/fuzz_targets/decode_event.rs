//! Fuzz target for the ring buffer reader: arbitrary bytes as the payload of a record of each
//! event kind the Manifests of `fuzz/scripts` describe (printf, print of every value type,
//! exit, join, warnings and errors, time, cat/system commands, …), decoded with
//! `stdlib::decode::EventLayout::args_into` and rendered as `runtime::events` renders them, in text and in
//! JSON. What the kernel sends is trusted, but a bug in codegen must not crash the reader: any
//! panic, hang or huge allocation here is a bug.
//!
//! Input: byte 0 picks the manifest, byte 1 the event (modulo their counts), byte 2's bit 0
//! asks for JSON; the rest is the record after its event id, or with byte 2's bit 1 the
//! whole record (split by `stdlib::decode::record`, which the runtime uses).
#![no_main]

mod manifests;

use libfuzzer_sys::fuzz_target;
use stdlib::decode::EventLayout;
use stdlib::format;
use stdlib::manifest::Event;
use stdlib::output;
use stdlib::value::Value;

fuzz_target!(|data: &[u8]| {
    let [m, e, flags, payload @ ..] = data else {
        return;
    };
    let all = manifests::all();
    let manifest = &all[usize::from(*m) % all.len()];
    // With bit 1 of the flags the rest is a whole record, event id first, split as the
    // runtime splits it; otherwise byte 1 picks the event, so every kind is reached quickly.
    let layouts: Vec<EventLayout> = manifest.events.iter().map(EventLayout::new).collect();
    let (ev, payload) = if flags & 2 == 2 {
        match stdlib::decode::record(&layouts, payload) {
            Ok((ev, payload, _)) => (ev, payload),
            Err(bad) => {
                assert!(!bad.to_string().contains('\n'));
                return;
            }
        }
    } else {
        match layouts.get(usize::from(*e) % layouts.len().max(1))
        {
            Some(ev) => (ev, payload),
            None => return,
        }
    };
    let json = flags & 1 == 1;
    let sym = manifests::FuzzSymbols { manifest };
    let mut args = Vec::new();
    ev.args_into(payload, &sym, &mut args);
    // Each arm renders what `EventSink::handle` writes for the kind, without its I/O.
    let out = match &ev.event {
        Event::Printf { format: pieces, .. } => {
            let s = format::render(pieces, &args);
            if json {
                output::json_text_record("printf", &s)
            } else {
                s
            }
        }
        Event::Message { format: pieces, .. }
        | Event::Cat { format: pieces, .. }
        | Event::System { format: pieces, .. } => format::render(pieces, &args),
        Event::Time { format: f } => {
            let ns = stdlib::decode::u64_at(payload, 0);
            stdlib::timefmt::strftime(
                f,
                (ns / 1_000_000_000) as i64,
                (ns % 1_000_000_000) as u32,
                false,
            )
        }
        Event::Join { separator, .. } => {
            let parts: Vec<String> = match args.first() {
                Some(Value::Array(items) | Value::Tuple(items)) => items
                    .iter()
                    .map(Value::to_text)
                    .filter(|s| !s.is_empty())
                    .collect(),
                _ => Vec::new(),
            };
            output::json_text_record("join", &parts.join(separator))
        }
        Event::Exit | Event::HelperError { .. } => {
            let code = args.first().map_or(0, |v| v.as_u64() as i64);
            output::helper_error_json("h", code, "fuzz.bt", 1, 1)
        }
        Event::PrintValue { .. } => {
            let v = args.into_iter().next().unwrap_or(Value::Int(0));
            if json {
                output::json_record("value", &v.to_json())
            } else {
                v.to_text() + "\n"
            }
        }
        Event::ZeroDivisor { .. }
        | Event::SkbOutput { .. }
        | Event::PrintMap { .. }
        | Event::Clear { .. }
        | Event::Zero { .. }
        | Event::Unwatch => String::new(),
    };
    if json && !out.is_empty() && matches!(&ev.event, Event::Printf { .. } | Event::PrintValue { .. }) {
        // A JSON record is one line of valid JSON.
        let line = out.trim_end_matches('\n');
        assert!(!line.contains('\n'), "a JSON record of two lines: {out:?}");
        if let Err(e) = serde_json::from_str::<serde_json::Value>(line) {
            panic!("invalid JSON ({e}): {out}");
        }
    }
});
