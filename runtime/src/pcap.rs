//! The pcap files of `skboutput(path, ...)`: each path a script names is created (or
//! truncated) when the run starts, with the pcap file header, so that a run that saw no
//! packet still leaves a valid file; each packet the perf buffer delivers is appended as one
//! record, its time moved from the boot clock to the wall clock. The bytes are
//! `stdlib::pcap`'s.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use stdlib::diag::reason;
use stdlib::manifest::{Event, Manifest};
use stdlib::pcap::{self, SkbSample};

/// The open files, by the event id of each `skboutput` call.
pub struct PcapFiles {
    /// Each call's file (an index into `files`) and offset, by event id.
    calls: HashMap<u64, (usize, u64)>,
    files: Vec<(String, File)>,
    /// What turns a boot-clock time into a wall-clock one.
    boot_to_wall_ns: u64,
    /// Whether a failed write was reported already: one warning per run is enough.
    warned: bool,
}

impl PcapFiles {
    /// Creates the file of every `skboutput` call of `manifest` (calls naming one path
    /// share it); `None` when there is none. `boot_to_wall_ns` is the wall-clock time
    /// minus the boot-clock time.
    pub fn create(manifest: &Manifest, boot_to_wall_ns: u64) -> std::io::Result<Option<PcapFiles>> {
        let mut out = PcapFiles {
            calls: HashMap::new(),
            files: Vec::new(),
            boot_to_wall_ns,
            warned: false,
        };
        for (id, ev) in manifest.events.iter().enumerate() {
            let Event::SkbOutput { path, offset } = ev else {
                continue;
            };
            let index = match out.files.iter().position(|(p, _)| p == path) {
                Some(i) => i,
                None => {
                    let mut f = File::create(path).map_err(|e| {
                        std::io::Error::new(
                            e.kind(),
                            format!("skboutput: cannot create {path}: {}", reason(&e)),
                        )
                    })?;
                    f.write_all(&pcap::file_header())?;
                    out.files.push((path.clone(), f));
                    out.files.len() - 1
                }
            };
            out.calls.insert(id as u64, (index, *offset));
        }
        Ok((!out.files.is_empty()).then_some(out))
    }

    /// Appends the packet of one perf buffer sample to its call's file.
    pub fn write(&mut self, sample: &[u8]) {
        let Some(s) = SkbSample::parse(sample) else {
            return;
        };
        let Some(&(index, offset)) = self.calls.get(&s.event) else {
            return;
        };
        let Some((path, file)) = self.files.get_mut(index) else {
            return;
        };
        let record = pcap::record(
            s.boot_ns.saturating_add(self.boot_to_wall_ns),
            s.from_offset(offset),
        );
        if let Err(e) = file.write_all(&record) {
            if !self.warned {
                stdlib::stderrln!(
                    "rbt: warning: skboutput: cannot write to {path}: {}",
                    reason(&e)
                );
                self.warned = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(event: u64, boot_ns: u64, packet: &[u8]) -> Vec<u8> {
        let mut s = Vec::new();
        for w in [event, boot_ns, packet.len() as u64] {
            s.extend_from_slice(&w.to_ne_bytes());
        }
        s.extend_from_slice(packet);
        s
    }

    /// Two calls on one path share its file, which starts with one header; each packet
    /// becomes a record without the bytes before its call's offset.
    #[test]
    fn packets_are_appended_after_one_header() {
        let dir = std::env::temp_dir().join(format!("rbt-pcap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.pcap").to_string_lossy().into_owned();
        let manifest = Manifest {
            events: vec![
                Event::Exit,
                Event::SkbOutput {
                    path: path.clone(),
                    offset: 2,
                },
                Event::SkbOutput {
                    path: path.clone(),
                    offset: 0,
                },
            ],
            ..Manifest::default()
        };
        let mut files = PcapFiles::create(&manifest, 1_000_000_000)
            .unwrap()
            .unwrap();
        files.write(&sample(1, 5_000, &[9, 9, 0x45, 1]));
        files.write(&sample(2, 6_000, &[0x60]));
        // Not an skboutput event: ignored.
        files.write(&sample(0, 7_000, &[1]));
        drop(files);
        let bytes = std::fs::read(&path).unwrap();
        let mut want = pcap::file_header().to_vec();
        want.extend(pcap::record(1_000_005_000, &[0x45, 1]));
        want.extend(pcap::record(1_000_006_000, &[0x60]));
        assert_eq!(bytes, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_calls_no_files() {
        assert!(PcapFiles::create(&Manifest::default(), 0)
            .unwrap()
            .is_none());
    }
}
