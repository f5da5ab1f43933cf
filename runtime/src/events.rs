//! Handling ring buffer records: decode the event id and arguments with the manifest's
//! layout and print them as bpftrace does, in text or JSON, buffered as `-B` says; map
//! printing at exit. The run loop (`run.rs`) drives this module; it never calls back.

use crate::maps;
use crate::symbols::{format_time, realtime_ns, SystemSymbolizer};
use crate::sys::{MapHandle, Object, SysError};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::rc::Rc;
use stdlib::decode::EventLayout;
use stdlib::diag::reason;
use stdlib::format;
use stdlib::manifest::{Event, Manifest, MapSpec};
use stdlib::output;
use stdlib::value::Value;

/// How events and maps are printed (`-f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

/// When output reaches the file or terminal (`-B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffering {
    /// After every batch of events (each event writes whole lines).
    Line,
    /// When the buffer fills, and at exit.
    Full,
    /// After every event.
    None,
}

pub enum Flow {
    Continue,
    Exit,
}

pub struct EventSink {
    /// Shared so that handling a record borrows its event while writing through `self`.
    events: Rc<[EventLayout]>,
    /// The decoded arguments of the record being handled; kept to reuse its allocation.
    args: Vec<Value>,
    /// The text of the record being handled (bytes, as printf writes them); kept to reuse its
    /// allocation.
    line: Vec<u8>,
    /// A `print(@m, top, div)` (map index, top, div) held back for one record: when the
    /// next is `clear(@m)`, the map is read and emptied in one pass, so no update is lost
    /// between the print and the clear (the usual `print(@m); clear(@m);` of an interval).
    pending_print: Option<(usize, u64, u64)>,
    /// The script, which `-k` warnings point into.
    source: stdlib::manifest::Source,
    maps: Vec<(MapSpec, MapHandle)>,
    format: OutputFormat,
    out: std::io::BufWriter<Box<dyn Write>>,
    buffering: Buffering,
    sym: Rc<SystemSymbolizer>,
    exit: Option<i32>,
    /// Set by exit(): later records are dropped, as bpftrace drops them, until END starts
    /// (END's own records print; an exit() in END stops them again).
    gated: bool,
    /// Records are skipped unread and counted in `skipped` (see [`EventSink::skip_queued`]).
    skipping: bool,
    skipped: u64,
    /// An iterator is running: its output prints whole, exit() or not (see
    /// [`EventSink::set_iterating`]).
    iterating: bool,
    /// The first write error; reported once at exit instead of on every event.
    write_error: Option<std::io::Error>,
    /// The most bytes `cat()` prints of a file (`max_cat_bytes`).
    max_cat_bytes: usize,
    /// `--no-warnings`: `warnf()` messages are dropped (errors still print).
    no_warnings: bool,
    /// While set, output is kept here instead of written (`--bench`/`--test` runs, whose
    /// output bpftrace shows only for a failed test), `errorf()` messages included.
    capture: Option<Vec<u8>>,
    /// The output's format while a capture renders text (see [`EventSink::start_capture`]).
    capture_format: Option<OutputFormat>,
    /// How many `errorf()` messages (and failed `assert()`s) were reported since
    /// [`EventSink::take_errors`]: each fails a test.
    errors: usize,
    /// The records warned about (see [`EventSink::bad_record`]).
    bad_records: Vec<(u8, u64)>,
    /// Addresses `unwatch()` asked to stop watching, for the run loop to detach (see
    /// [`EventSink::take_unwatched`]).
    unwatched: Vec<u64>,
}

/// How many different malformed records are reported before the rest pass silently.
const MAX_BAD_RECORD_WARNINGS: usize = 16;

impl EventSink {
    pub fn new(
        manifest: &Manifest,
        format: OutputFormat,
        out: Box<dyn Write>,
        buffering: Buffering,
        sym: Rc<SystemSymbolizer>,
        obj: &Object,
    ) -> Result<EventSink, SysError> {
        let maps = manifest
            .maps
            .iter()
            .map(|m| obj.map(&m.elf_name).map(|h| (m.clone(), h)))
            .collect::<Result<_, _>>()?;
        Ok(EventSink {
            events: manifest.events.iter().map(EventLayout::new).collect(),
            args: Vec::new(),
            line: Vec::new(),
            pending_print: None,
            source: manifest.source.clone().unwrap_or_default(),
            maps,
            format,
            out: std::io::BufWriter::with_capacity(1 << 16, out),
            buffering,
            sym,
            exit: None,
            gated: false,
            skipping: false,
            skipped: 0,
            iterating: false,
            write_error: None,
            max_cat_bytes: 10240,
            no_warnings: false,
            capture: None,
            capture_format: None,
            errors: 0,
            bad_records: Vec::new(),
            unwatched: Vec::new(),
        })
    }

    /// The addresses `unwatch()` named since the last call: the run loop detaches the
    /// watchpoints on them.
    pub fn take_unwatched(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.unwatched)
    }

    pub fn exiting(&self) -> bool {
        self.exit.is_some()
    }

    /// From now on records are END's: print them whether or not exit() was called.
    pub fn start_end(&mut self) {
        self.gated = false;
        self.skipping = false;
    }

    /// From now on records are skipped unread, and counted: a signal ended the run while
    /// more were queued than rbt could handle in time (each `system()` record runs a
    /// command). END's records are printed again after [`EventSink::start_end`].
    pub fn skip_queued(&mut self) {
        self.gated = true;
        self.skipping = true;
    }

    /// How many records were skipped since the last call.
    pub fn take_skipped(&mut self) -> u64 {
        std::mem::take(&mut self.skipped)
    }

    /// While an iterator runs, exit() sets the status but drops no records: bpftrace prints
    /// an iteration whole, since exit() takes effect once the iteration is done.
    pub fn set_iterating(&mut self, iterating: bool) {
        self.iterating = iterating;
    }

    /// Whether the output's reader has gone (a broken pipe): nothing more can be shown.
    pub fn output_closed(&self) -> bool {
        self.write_error
            .as_ref()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    pub fn exit_code(&self) -> i32 {
        self.exit.unwrap_or(0)
    }

    /// Writes text or bytes (a string's bytes in text output are written as they are, as
    /// bpftrace writes them, UTF-8 or not).
    fn write(&mut self, s: impl AsRef<[u8]>) {
        let s = s.as_ref();
        if let Some(c) = &mut self.capture {
            c.extend_from_slice(s);
            return;
        }
        if self.output_closed() {
            return;
        }
        let r = self.out.write_all(s);
        let r = match self.buffering {
            Buffering::None => r.and_then(|_| self.out.flush()),
            Buffering::Line | Buffering::Full => r,
        };
        if let Err(e) = r {
            self.write_error.get_or_insert(e);
        }
    }

    /// The text an event prints: in JSON the record `{"type": kind, "data": text}` (bytes
    /// that are not UTF-8 become U+FFFD), in text its bytes as they are, then `end`.
    fn write_text_record(&mut self, kind: &str, bytes: &[u8], end: &str) {
        if self.format == OutputFormat::Json {
            let text = String::from_utf8_lossy(bytes);
            self.write(output::json_text_record(kind, &text));
        } else {
            self.write(bytes);
            self.write(end);
        }
    }

    /// Called after each batch of ring buffer records: in line mode the batch's complete
    /// lines go out now (one write(2) per batch, not per event).
    pub fn end_batch(&mut self) {
        self.print_pending();
        if self.buffering == Buffering::Line {
            if let Err(e) = self.out.flush() {
                self.write_error.get_or_insert(e);
            }
        }
    }

    /// Sets how many bytes of a file `cat()` prints (`max_cat_bytes`).
    pub fn set_max_cat_bytes(&mut self, n: usize) {
        self.max_cat_bytes = n;
    }

    /// Keeps the output from now on instead of writing it, until [`Self::end_capture`]; as
    /// text if `text` (a test's output in a JSON result record, as bpftrace gives it).
    pub fn start_capture(&mut self, text: bool) {
        self.capture = Some(Vec::new());
        if text {
            self.capture_format = Some(std::mem::replace(&mut self.format, OutputFormat::Text));
        }
    }

    /// Writes again, in the output's own format; returns what was kept (bytes that are not
    /// UTF-8 become U+FFFD: it goes into a test's report).
    pub fn end_capture(&mut self) -> String {
        self.print_pending();
        if let Some(f) = self.capture_format.take() {
            self.format = f;
        }
        stdlib::value::utf8_text(self.capture.take().unwrap_or_default())
    }

    /// Writes text rbt produces itself (benchmark tables, test results) to the output.
    pub fn write_text(&mut self, s: &str) {
        self.print_pending();
        self.write(s);
    }

    /// How many errors were reported since the last call (see [`EventSink::errors`]).
    pub fn take_errors(&mut self) -> usize {
        std::mem::take(&mut self.errors)
    }

    /// Forgets an exit() (a benchmark's or a test's): returns its code, and lets output
    /// through again.
    pub fn take_exit(&mut self) -> Option<i32> {
        self.gated = false;
        self.exit.take()
    }

    pub fn format(&self) -> OutputFormat {
        self.capture_format.unwrap_or(self.format)
    }

    /// Drops `warnf()` messages (`--no-warnings`), as bpftrace does.
    pub fn set_no_warnings(&mut self, on: bool) {
        self.no_warnings = on;
    }

    pub fn flush(&mut self) {
        self.print_pending();
        if let Err(e) = self.out.flush() {
            self.write_error.get_or_insert(e);
        }
    }

    /// Says that `n` probes are attached, once they are: on stderr in text (as bpftrace 0.27
    /// does, so it never mixes with the script's output or `-o`'s file; a closed stderr does
    /// not stop the run), as a record in JSON.
    pub fn attached(&mut self, n: usize) {
        match self.format {
            OutputFormat::Text => stdlib::stderr!("{}", output::attached_text(n)),
            OutputFormat::Json => {
                self.write(output::attached_json(n));
                // Users (and tests) watch for this line to know tracing has started.
                self.flush();
            }
        }
    }

    pub fn lost(&mut self, n: u64) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        match self.format {
            OutputFormat::Text => stdlib::stderrln!("Lost {n} events"),
            OutputFormat::Json => {
                let s = output::lost_json(n);
                self.write(&s);
            }
        }
        Ok(())
    }

    /// Warns about a map update at `start..end` of the script that found its map full, as
    /// bpftrace words it (it warns at each failure; rbt counts them and warns once a site).
    pub fn map_full(&mut self, start: usize, end: usize) {
        let (name, text, span) = self.source.locate(stdlib::diag::Span::new(start, end));
        match self.format {
            OutputFormat::Text => stdlib::stderr!(
                "{}",
                stdlib::diag::runtime_warning(name, text, span, stdlib::manifest::MAP_FULL_WARNING)
            ),
            OutputFormat::Json => {
                let (line, col) = stdlib::diag::start_line_col(text, span);
                // A full hash refuses an update with E2BIG.
                let ret = -i64::from(libc::E2BIG);
                let record = output::helper_error_json("map_update_elem", ret, name, line, col);
                self.write(&record);
            }
        }
    }

    /// After several `Lost N events` reports, their sum (text only: JSON consumers add up
    /// the `lost_events` records).
    pub fn lost_in_total(&mut self, n: u64) {
        match self.format {
            OutputFormat::Text => stdlib::stderrln!("Lost {n} events in total"),
            OutputFormat::Json => {}
        }
    }

    /// Warns about a record that does not fit the Manifest, once for each kind and event (at
    /// most [`MAX_BAD_RECORD_WARNINGS`] times in all, so garbage cannot flood stderr).
    fn bad_record(&mut self, bad: stdlib::decode::BadRecord) {
        if self.bad_records.len() >= MAX_BAD_RECORD_WARNINGS
            || self.bad_records.contains(&bad.key())
        {
            return;
        }
        self.bad_records.push(bad.key());
        stdlib::stderrln!("rbt: warning: {bad}");
    }

    /// Handles one ring buffer record.
    pub fn handle(&mut self, bytes: &[u8]) -> Flow {
        if self.gated {
            if self.skipping {
                self.skipped += 1;
            }
            return Flow::Exit;
        }
        let events = Rc::clone(&self.events);
        let found = stdlib::decode::record(&events, bytes);
        if let Some((map, top, div)) = self.pending_print.take() {
            let clear = matches!(&found, Ok((EventLayout { event: Event::Clear { map: m }, .. }, _, _))
                if *m as usize == map);
            self.print_map_reported(map, top, div, clear);
            if clear {
                return Flow::Continue;
            }
        }
        let (layout, payload) = match found {
            Ok((layout, payload, short)) => {
                if let Some(bad) = short {
                    self.bad_record(bad);
                }
                (layout, payload)
            }
            Err(bad) => {
                self.bad_record(bad);
                return Flow::Continue;
            }
        };
        let mut args = std::mem::take(&mut self.args);
        layout.args_into(payload, self.sym.as_ref(), &mut args);
        let flow = self.handle_event(&layout.event, &args);
        self.args = args;
        flow
    }

    /// Handles one record of event `ev` whose arguments are `args`.
    fn handle_event(&mut self, ev: &Event, args: &[Value]) -> Flow {
        let json = self.format == OutputFormat::Json;
        match ev {
            Event::Printf { format: pieces, .. } => {
                let mut line = std::mem::take(&mut self.line);
                line.clear();
                format::render_into(pieces, args, &mut line);
                self.write_text_record("printf", &line, "");
                self.line = line;
            }
            Event::Message {
                level,
                format: pieces,
                start,
                end,
                expanded_from,
                ..
            } => {
                if self.no_warnings && *level == stdlib::manifest::Level::Warning {
                    return Flow::Continue;
                }
                if *level == stdlib::manifest::Level::Error {
                    self.errors += 1;
                }
                let text = format::render(pieces, args);
                let text = text.trim_end_matches('\n');
                let (name, source, span) =
                    self.source.locate(stdlib::diag::Span::new(*start, *end));
                // As bpftrace writes them: a record on stdout in JSON (which has no room for
                // the macro calls), text on stderr otherwise; inside a test, its output.
                let message = if json {
                    let (line, col) = stdlib::diag::Lines::new(source).line_col(span.start);
                    let kind = match level {
                        stdlib::manifest::Level::Error => "errorf",
                        stdlib::manifest::Level::Warning => "warnf",
                    };
                    format!(
                        "{{\"type\": \"{kind}\", \"msg\": {}, \"filename\": {}, \"line\": {line}, \"col\": {col}}}\n",
                        output::json_str(text),
                        output::json_str(name)
                    )
                } else {
                    let at = stdlib::diag::location(name, source, span);
                    let mut m = format!("{at}: {}: {text}\n", level.word());
                    for &(start, end) in expanded_from {
                        let (name, source, span) =
                            self.source.locate(stdlib::diag::Span::new(start, end));
                        m.push_str(&stdlib::diag::runtime_message(
                            name,
                            source,
                            span,
                            level.word(),
                            "expanded from",
                        ));
                    }
                    m
                };
                if json || self.capture.is_some() {
                    self.write(&message);
                } else {
                    stdlib::stderr!("{message}");
                }
            }
            Event::Time { format: f } => {
                let s = format_time(f, realtime_ns());
                self.write_text_record("time", s.as_bytes(), "");
            }
            Event::Cat { format: pieces, .. } => {
                let mut path = Vec::new();
                format::render_into(pieces, args, &mut path);
                let path = PathBuf::from(OsString::from_vec(path));
                // At most `max_cat_bytes` are read: the file may be endless (`/dev/zero`).
                let limit = u64::try_from(self.max_cat_bytes).unwrap_or(u64::MAX);
                let mut bytes = Vec::new();
                let read = std::fs::File::open(&path)
                    .and_then(|f| Read::read_to_end(&mut Read::take(f, limit), &mut bytes));
                match read {
                    Ok(_) => {}
                    // On stderr, as bpftrace reports it: the output holds the file's text only.
                    Err(e) => {
                        stdlib::stderrln!(
                            "ERROR: cat(): cannot read '{}' ({})",
                            path.display(),
                            reason(&e)
                        );
                        return Flow::Continue;
                    }
                }
                self.write_text_record("cat", &bytes, "");
            }
            Event::System { format: pieces, .. } => {
                let mut cmd = Vec::new();
                format::render_into(pieces, args, &mut cmd);
                let cmd = OsString::from_vec(cmd);
                let out = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&cmd)
                    .output()
                    .map(|o| o.stdout)
                    .unwrap_or_else(|e| {
                        let cmd = cmd.to_string_lossy();
                        format!("system(\"{cmd}\"): {}\n", reason(&e)).into_bytes()
                    });
                // bpftrace 0.27 ends the command's text output with a line break of its own.
                self.write_text_record("syscall", &out, "\n");
            }
            Event::Join { separator, .. } => {
                let mut text = Vec::new();
                if let Some(Value::Array(items) | Value::Tuple(items)) = args.first() {
                    let mut part = Vec::new();
                    for item in items {
                        part.clear();
                        item.write_text(&mut part);
                        if part.is_empty() {
                            continue;
                        }
                        if !text.is_empty() {
                            text.extend_from_slice(separator.as_bytes());
                        }
                        text.extend_from_slice(&part);
                    }
                }
                self.write_text_record("join", &text, "\n");
            }
            Event::Unwatch => {
                if let Some(addr) = args.first() {
                    self.unwatched.push(addr.as_u64());
                }
            }
            Event::Exit => {
                let code = args.first().map_or(0, |v| v.as_u64() as i64 as i32);
                // The first exit() sets the status; one in END only stops END's output.
                self.exit.get_or_insert(code);
                if self.iterating {
                    return Flow::Continue;
                }
                self.gated = true;
                return Flow::Exit;
            }
            Event::HelperError { helper, start, end } => {
                // A warning, on stderr as bpftrace writes it in text; a record on stdout in JSON.
                let ret = args.first().map_or(0, |v| v.as_u64() as i64);
                let (name, text, span) = self.source.locate(stdlib::diag::Span::new(*start, *end));
                if json {
                    let (line, col) = stdlib::diag::start_line_col(text, span);
                    let record = output::helper_error_json(helper, ret, name, line, col);
                    self.write(&record);
                } else {
                    stdlib::stderr!(
                        "{}",
                        stdlib::diag::helper_warning(name, text, span, helper, ret)
                    );
                }
            }
            Event::ZeroDivisor { start, end } => {
                let (name, text, span) = self.source.locate(stdlib::diag::Span::new(*start, *end));
                let message = stdlib::manifest::ZERO_DIVISOR_WARNING;
                if json {
                    let (line, col) = stdlib::diag::start_line_col(text, span);
                    self.write(output::runtime_error_json(message, name, line, col));
                } else {
                    stdlib::stderr!(
                        "{}",
                        stdlib::diag::runtime_warning(name, text, span, message)
                    );
                }
            }
            Event::PrintValue { .. } => {
                let v = args.first().unwrap_or(&Value::Int(0));
                // 0.17 prints print()'s value compactly (`[3,"four"]`).
                if json {
                    self.write(output::json_record("value", &v.to_json()));
                } else {
                    let mut text = Vec::new();
                    v.write_text(&mut text);
                    text.push(b'\n');
                    self.write(&text);
                }
            }
            Event::PrintMap { map, top, div } => {
                self.pending_print = Some((*map as usize, *top, *div));
            }
            // Packets come through the perf buffers to their pcap files (`crate::pcap`),
            // never through the ring buffer.
            Event::SkbOutput { .. } => {}
            Event::Clear { map } | Event::Zero { map } => {
                if let Some((_, handle)) = self.maps.get(*map as usize) {
                    let r = if matches!(ev, Event::Clear { .. }) {
                        maps::clear(handle)
                    } else {
                        maps::zero(handle)
                    };
                    if let Err(e) = r {
                        stdlib::stderrln!("rbt: {e}");
                    }
                }
            }
        }
        Flow::Continue
    }

    /// Does the held-back `print()`, if any.
    fn print_pending(&mut self) {
        if let Some((map, top, div)) = self.pending_print.take() {
            self.print_map_reported(map, top, div, false);
        }
    }

    /// `print(@m, top, div)`, and `clear(@m)` in the same pass when `clear`; errors go to
    /// stderr, as the run goes on.
    fn print_map_reported(&mut self, index: usize, top: u64, div: u64, clear: bool) {
        if let Err(e) = self.print_map(index, top, div, clear) {
            stdlib::stderrln!("rbt: print(): {e}");
        }
    }

    fn print_map(&mut self, index: usize, top: u64, div: u64, clear: bool) -> Result<(), SysError> {
        let Some((spec, handle)) = self.maps.get(index) else {
            return Ok(());
        };
        let mut dump = if clear {
            maps::dump_and_clear(handle, spec, self.sym.as_ref())?
        } else {
            maps::dump(handle, spec, self.sym.as_ref())?
        };
        // print() of a scalar map that holds nothing shows the zero of its type.
        if dump.entries.is_empty() && spec.key.is_none() {
            let zero = output::scalar_zero(&spec.value, self.sym.as_ref());
            dump.entries.extend(zero.map(|v| (None, v)));
        }
        let s = self.render_map(&dump, &spec.value, top, div);
        self.write(&s);
        Ok(())
    }

    /// A map's text or JSON; an empty map prints nothing in text and, if it is an avg or stats
    /// map, `{}` in JSON.
    fn render_map(
        &self,
        dump: &output::MapDump,
        value: &stdlib::types::Type,
        top: u64,
        div: u64,
    ) -> Vec<u8> {
        match (self.format, dump.entries.is_empty()) {
            (OutputFormat::Text, _) => output::map_text(dump, top, div),
            (OutputFormat::Json, true) => output::empty_map_json(&dump.name, value).into_bytes(),
            (OutputFormat::Json, false) => output::map_json(dump, top, div).into_bytes(),
        }
    }

    /// At exit: in text, a blank pair of lines, then every map in name order (an empty map
    /// prints nothing); in JSON one record per map and no blank lines, as bpftrace 0.27 does
    /// (0.17 printed the blank lines in JSON too, and a blank line per empty map).
    pub fn print_exit_maps(&mut self, print_maps: bool) -> Result<(), SysError> {
        self.print_pending();
        if self.format == OutputFormat::Text {
            self.write("\n\n");
        }
        // `print_maps_on_exit=false` keeps the blank lines, as bpftrace does.
        let mut order: Vec<usize> = if print_maps {
            (0..self.maps.len()).collect()
        } else {
            Vec::new()
        };
        order.sort_by(|a, b| {
            self.maps[*a]
                .0
                .script_name
                .cmp(&self.maps[*b].0.script_name)
        });
        for i in order {
            let (spec, handle) = &self.maps[i];
            let dump = maps::dump(handle, spec, self.sym.as_ref())?;
            let s = self.render_map(&dump, &spec.value, 0, 0);
            self.write(&s);
        }
        self.flush();
        // A reader that went away (`| head`) ended the run on purpose; other errors are news.
        if let Some(e) = self.write_error.take() {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                stdlib::stderrln!("rbt: writing output failed: {}", reason(&e));
            }
        }
        Ok(())
    }
}
