//! The packets `skboutput()` sends and the pcap files they are written to: the record the
//! BPF side puts before each packet, and the bytes of a pcap file (its header, written once,
//! and one record per packet). Files are RAW IP (a packet starts at its IP header), as
//! bpftrace writes them. Writing the files is the runtime's business; this is only bytes.

/// `LINKTYPE_RAW`: each packet starts at its IP header, with no link-layer header.
pub const LINKTYPE_RAW: u32 = 101;

/// The most bytes of one packet a record holds, as the file header announces it; a longer
/// packet's record keeps its first `SNAPLEN` bytes and says how long it was.
pub const SNAPLEN: u32 = 65535;

/// The magic number of a pcap file with microsecond timestamps, written in the byte order
/// of every other field (the host's), which tells readers that order.
pub const MAGIC: u32 = 0xa1b2_c3d4;

/// Bytes of the record before each packet: `u64` event id, `u64` boot-clock time in
/// nanoseconds, `u64` length of the packet bytes that follow (`Event::SkbOutput`'s record).
pub const SAMPLE_HEADER: usize = 24;

/// The 24-byte header a pcap file starts with: version 2.4, UTC, no sigfigs, [`SNAPLEN`],
/// [`LINKTYPE_RAW`].
pub fn file_header() -> [u8; 24] {
    let mut out = [0u8; 24];
    out[0..4].copy_from_slice(&MAGIC.to_ne_bytes());
    out[4..6].copy_from_slice(&2u16.to_ne_bytes());
    out[6..8].copy_from_slice(&4u16.to_ne_bytes());
    // thiszone (8..12) and sigfigs (12..16) stay 0.
    out[16..20].copy_from_slice(&SNAPLEN.to_ne_bytes());
    out[20..24].copy_from_slice(&LINKTYPE_RAW.to_ne_bytes());
    out
}

/// One record: the wall-clock time `wall_ns` (nanoseconds since the epoch), the captured
/// length, the packet's length, then at most [`SNAPLEN`] bytes of `packet`.
pub fn record(wall_ns: u64, packet: &[u8]) -> Vec<u8> {
    let kept = &packet[..packet.len().min(SNAPLEN as usize)];
    let secs = u32::try_from(wall_ns / 1_000_000_000).unwrap_or(u32::MAX);
    let micros = (wall_ns % 1_000_000_000 / 1000) as u32;
    let mut out = Vec::with_capacity(16 + kept.len());
    out.extend_from_slice(&secs.to_ne_bytes());
    out.extend_from_slice(&micros.to_ne_bytes());
    out.extend_from_slice(&(kept.len() as u32).to_ne_bytes());
    out.extend_from_slice(
        &u32::try_from(packet.len())
            .unwrap_or(u32::MAX)
            .to_ne_bytes(),
    );
    out.extend_from_slice(kept);
    out
}

/// A packet as the BPF side sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkbSample<'a> {
    /// The id of its `Event::SkbOutput`, which names the file and the offset.
    pub event: u64,
    /// When it was sent, on the boot clock (ns).
    pub boot_ns: u64,
    /// The bytes captured from the start of the packet's data.
    pub packet: &'a [u8],
}

impl<'a> SkbSample<'a> {
    /// Reads a perf buffer sample: the record, then the packet. The perf buffer pads a
    /// sample to 8 bytes, so the record's length, not the sample's, says where the packet
    /// ends. `None` for a sample too short for its record.
    pub fn parse(sample: &'a [u8]) -> Option<SkbSample<'a>> {
        let word = |i: usize| -> Option<u64> {
            let b = sample.get(8 * i..8 * i + 8)?;
            Some(u64::from_ne_bytes(b.try_into().ok()?))
        };
        let (event, boot_ns, len) = (word(0)?, word(1)?, word(2)?);
        let rest = &sample[SAMPLE_HEADER..];
        let len = usize::try_from(len).map_or(rest.len(), |n| n.min(rest.len()));
        Some(SkbSample {
            event,
            boot_ns,
            packet: &rest[..len],
        })
    }

    /// The bytes written to the file: those from `offset` on (`skboutput`'s offset skips
    /// a link-layer header), none when the packet is shorter.
    pub fn from_offset(&self, offset: u64) -> &'a [u8] {
        let at = usize::try_from(offset).map_or(self.packet.len(), |o| o.min(self.packet.len()));
        &self.packet[at..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], i: usize) -> u32 {
        u32::from_ne_bytes(b[i..i + 4].try_into().unwrap())
    }

    #[test]
    fn the_file_header_announces_raw_ip() {
        let h = file_header();
        assert_eq!(u32_at(&h, 0), MAGIC);
        assert_eq!(u16::from_ne_bytes([h[4], h[5]]), 2);
        assert_eq!(u16::from_ne_bytes([h[6], h[7]]), 4);
        assert_eq!(u32_at(&h, 8), 0);
        assert_eq!(u32_at(&h, 12), 0);
        assert_eq!(u32_at(&h, 16), SNAPLEN);
        assert_eq!(u32_at(&h, 20), 101);
    }

    #[test]
    fn a_record_has_its_time_lengths_and_bytes() {
        let r = record(1_700_000_123_456_789_000, &[0x45, 0, 0, 20]);
        assert_eq!(u32_at(&r, 0), 1_700_000_123);
        assert_eq!(u32_at(&r, 4), 456_789);
        assert_eq!(u32_at(&r, 8), 4);
        assert_eq!(u32_at(&r, 12), 4);
        assert_eq!(&r[16..], &[0x45, 0, 0, 20]);
    }

    #[test]
    fn a_long_packet_is_cut_at_the_snapshot_length() {
        let packet = vec![7u8; SNAPLEN as usize + 10];
        let r = record(0, &packet);
        assert_eq!(u32_at(&r, 8), SNAPLEN);
        assert_eq!(u32_at(&r, 12), SNAPLEN + 10);
        assert_eq!(r.len(), 16 + SNAPLEN as usize);
    }

    #[test]
    fn samples_drop_the_perf_padding_and_the_offset() {
        let mut s = Vec::new();
        for w in [3u64, 99, 5] {
            s.extend_from_slice(&w.to_ne_bytes());
        }
        s.extend_from_slice(&[1, 2, 3, 4, 5, 0, 0, 0]);
        let sample = SkbSample::parse(&s).unwrap();
        assert_eq!(sample.event, 3);
        assert_eq!(sample.boot_ns, 99);
        assert_eq!(sample.packet, &[1, 2, 3, 4, 5]);
        assert_eq!(sample.from_offset(2), &[3, 4, 5]);
        assert!(sample.from_offset(14).is_empty());
        assert_eq!(SkbSample::parse(&s[..20]), None);
    }
}
