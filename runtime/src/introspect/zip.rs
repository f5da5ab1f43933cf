//! Finding an uncompressed member of a zip archive, for uprobes on `app.zip!/lib/x.so`
//! (Android's APKs keep their libraries stored this way, and the kernel places a uprobe on
//! the archive file at the member's offset, as libbpf does for such a path).
//!
//! Hand-written rather than the `zip` crate: all a uprobe needs is where one stored member's
//! bytes start, which is the central directory walk below; the crate brings decompressors and
//! writers that would never run here.

use std::ops::Range;

/// End of central directory record, and the fixed sizes of the records read here.
const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const CENTRAL_LEN: usize = 46;
const LOCAL_SIG: u32 = 0x0403_4b50;
const LOCAL_LEN: usize = 30;
/// The EOCD record ends the file, after a comment of at most 65535 bytes.
const MAX_COMMENT: usize = 0xffff;
/// Compression method 0: the member's bytes are stored as they are.
const STORED: u16 = 0;

/// Splits `archive.zip!/member` into the archive's path and the member's name.
pub fn split(path: &str) -> Option<(&str, &str)> {
    path.split_once("!/")
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Where the bytes of the stored member `name` lie in `archive`. The error says why it cannot
/// be used: not a zip, no such member, or a compressed one (a uprobe needs the code as it is
/// in the file).
pub fn stored_member(archive: &[u8], name: &str) -> Result<Range<usize>, String> {
    let not_zip = || "not a zip archive (no end of central directory record)".to_string();
    let last = archive.len().checked_sub(EOCD_LEN).ok_or_else(not_zip)?;
    let first = last.saturating_sub(MAX_COMMENT);
    let eocd = (first..=last)
        .rev()
        .find(|&at| u32_at(archive, at) == Some(EOCD_SIG))
        .ok_or_else(not_zip)?;
    let entries = u16_at(archive, eocd + 10).ok_or_else(not_zip)?;
    let mut at = u32_at(archive, eocd + 16).ok_or_else(not_zip)? as usize;
    let truncated = || "its central directory is truncated".to_string();
    for _ in 0..entries {
        if u32_at(archive, at) != Some(CENTRAL_SIG) {
            return Err(truncated());
        }
        let field = |off| {
            u16_at(archive, at + off)
                .map(usize::from)
                .ok_or_else(truncated)
        };
        let (method, name_len, extra_len, comment_len) =
            (field(10)?, field(28)?, field(30)?, field(32)?);
        let size = u32_at(archive, at + 20).ok_or_else(truncated)? as usize;
        let local = u32_at(archive, at + 42).ok_or_else(truncated)? as usize;
        let start = at + CENTRAL_LEN;
        let this = archive.get(start..start + name_len).ok_or_else(truncated)?;
        if this == name.as_bytes() {
            if method != usize::from(STORED) {
                return Err(format!(
                    "member {name} is compressed; a uprobe needs it stored uncompressed (zip -0)"
                ));
            }
            if u32_at(archive, local) != Some(LOCAL_SIG) {
                return Err(format!("the local header of member {name} is missing"));
            }
            let local_field = |off| {
                u16_at(archive, local + off)
                    .map(usize::from)
                    .ok_or_else(truncated)
            };
            let data = local + LOCAL_LEN + local_field(26)? + local_field(28)?;
            return match data.checked_add(size) {
                Some(end) if end <= archive.len() => Ok(data..end),
                _ => Err(format!("member {name} runs past the end of the archive")),
            };
        }
        at = start + name_len + extra_len + comment_len;
    }
    Err(format!("the archive has no member {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip archive built by hand: one local header, its data, one central directory entry
    /// and the end record, as `zip -0` writes them.
    fn archive(name: &str, data: &[u8], method: u16) -> Vec<u8> {
        let mut z = Vec::new();
        z.extend(LOCAL_SIG.to_le_bytes());
        z.extend([20, 0, 0, 0]);
        z.extend(method.to_le_bytes());
        // Time, date and CRC-32.
        z.extend([0u8; 8]);
        z.extend((data.len() as u32).to_le_bytes());
        z.extend((data.len() as u32).to_le_bytes());
        z.extend((name.len() as u16).to_le_bytes());
        z.extend(3u16.to_le_bytes());
        z.extend(name.as_bytes());
        z.extend([0u8; 3]);
        z.extend(data);
        let central = z.len();
        z.extend(CENTRAL_SIG.to_le_bytes());
        z.extend([20, 0, 20, 0, 0, 0]);
        z.extend(method.to_le_bytes());
        z.extend([0u8; 8]);
        z.extend((data.len() as u32).to_le_bytes());
        z.extend((data.len() as u32).to_le_bytes());
        z.extend((name.len() as u16).to_le_bytes());
        z.extend([0u8; 12]);
        z.extend(0u32.to_le_bytes());
        z.extend(name.as_bytes());
        let dir_len = z.len() - central;
        z.extend(EOCD_SIG.to_le_bytes());
        z.extend([0u8; 4]);
        z.extend(1u16.to_le_bytes());
        z.extend(1u16.to_le_bytes());
        z.extend((dir_len as u32).to_le_bytes());
        z.extend((central as u32).to_le_bytes());
        z.extend(0u16.to_le_bytes());
        z
    }

    #[test]
    fn finds_a_stored_member_after_its_local_header() {
        let z = archive("bin/true", b"\x7fELF-bytes", STORED);
        let range = stored_member(&z, "bin/true").expect("member");
        assert_eq!(&z[range.clone()], b"\x7fELF-bytes");
        // Header, the name and the 3-byte extra field come first.
        assert_eq!(range.start, LOCAL_LEN + "bin/true".len() + 3);
    }

    #[test]
    fn refuses_what_a_uprobe_cannot_use() {
        let z = archive("a", b"xyz", 8);
        assert!(stored_member(&z, "a").unwrap_err().contains("compressed"));
        let z = archive("a", b"xyz", STORED);
        assert!(stored_member(&z, "b").unwrap_err().contains("no member b"));
        assert!(stored_member(b"\x7fELF", "a")
            .unwrap_err()
            .contains("not a zip"));
        // Cut anywhere, the archive is refused without a panic.
        for n in 0..z.len() {
            let _ = stored_member(&z[..n], "a");
        }
    }

    #[test]
    fn splits_the_member_off_the_path() {
        assert_eq!(split("./x.zip!/lib/a.so"), Some(("./x.zip", "lib/a.so")));
        assert_eq!(split("/bin/true"), None);
    }
}
