//! User stack frames with debug info (`config = { show_debug_info = 1 }`): each machine
//! frame of a `ustack` gains the file and line it is at, and is preceded by the functions
//! inlined there, as bpftrace 0.27 prints them:
//!
//! ```text
//!         [inlined] myclock@/src/prog.c:15
//!         [inlined] mywrapper_inlined@/src/prog.c:20
//!         mywrapper+48@/src/prog.c:25
//! ```
//!
//! and in perf mode `401166 myclock (inlined)` lines before the frame's own, which keeps no
//! file or line. A frame whose object has no debug info prints as without the setting. The
//! limit of `ustack(N)` counts machine frames, so `ustack(2)` may print more than two lines.
//! The debug info of each object is read once, on the first frame that falls in it
//! ([`crate::introspect::frames`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use stdlib::types::StackMode;

use crate::introspect::frames::{SourceFrame, SourceFrames};

/// The debug info of the objects user frames fell in, when the script asks for it.
pub(crate) struct SourceFrameCache {
    enabled: bool,
    /// By the object's path in the traced process; `None`: it has no debug info.
    objects: RefCell<HashMap<String, Option<Rc<SourceFrames>>>>,
}

impl SourceFrameCache {
    pub(crate) fn new(enabled: bool) -> SourceFrameCache {
        SourceFrameCache {
            enabled,
            objects: RefCell::default(),
        }
    }

    /// The lines one machine frame of a user stack prints as: `plain` (what it prints
    /// without debug info) for address `addr` of process `pid`, which falls at `file_offset`
    /// of the object at `path`. `innermost`: the frame is where the probe fired; the others
    /// are return addresses, looked up one byte back so that they name the call.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn lines(
        &self,
        pid: u32,
        path: &str,
        file_offset: u64,
        innermost: bool,
        addr: u64,
        mode: StackMode,
        plain: String,
    ) -> Vec<String> {
        let wanted = match mode {
            StackMode::Bpftrace | StackMode::Perf => self.enabled,
            StackMode::Raw | StackMode::BuildId => false,
        };
        if !wanted {
            return vec![plain];
        }
        let Some(object) = self.object(pid, path) else {
            return vec![plain];
        };
        let at = if innermost {
            file_offset
        } else {
            file_offset.saturating_sub(1)
        };
        let frames = object.at_offset(at);
        let Some((own, inlined)) = frames.split_last() else {
            return vec![plain];
        };
        let name = |f: &SourceFrame| f.function.clone().unwrap_or_else(|| "[unknown]".into());
        let mut out: Vec<String> = inlined
            .iter()
            .map(|f| match mode {
                StackMode::Perf => format!("{addr:x} {} (inlined)", name(f)),
                StackMode::Bpftrace | StackMode::Raw | StackMode::BuildId => {
                    format!("[inlined] {}{}", name(f), at_line(f))
                }
            })
            .collect();
        out.push(match mode {
            StackMode::Perf => plain,
            StackMode::Bpftrace | StackMode::Raw | StackMode::BuildId => {
                format!("{plain}{}", at_line(own))
            }
        });
        out
    }

    fn object(&self, pid: u32, path: &str) -> Option<Rc<SourceFrames>> {
        self.objects
            .borrow_mut()
            .entry(path.to_string())
            .or_insert_with(|| {
                // The process's own view of the file first: it may live in another mount
                // namespace.
                let in_root = format!("/proc/{pid}/root{path}");
                SourceFrames::load(Path::new(&in_root), &[])
                    .or_else(|| SourceFrames::load(Path::new(path), &[]))
                    .map(Rc::new)
            })
            .clone()
    }
}

/// `@FILE:LINE` of a source frame, or nothing when the line table does not cover it.
fn at_line(f: &SourceFrame) -> String {
    f.location
        .as_ref()
        .map_or_else(String::new, |(file, line)| format!("@{file}:{line}"))
}
