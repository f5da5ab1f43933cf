//! Wall-clock formatting for `time(fmt)` and `strftime(fmt, ns)`: C `strftime` conversions,
//! done by the C library so calendars and time zones (`TZ`) behave exactly as in bpftrace,
//! plus bpftrace's own `%f` (microseconds, six digits). Converting a boot-relative BPF
//! timestamp into wall-clock seconds is the runtime's job; this file starts from wall time.

/// The format `time()` uses when given none.
pub const DEFAULT_TIME_FORMAT: &str = "%H:%M:%S\n";

/// What bpftrace prints when the C library produced nothing (empty output or a format that
/// does not fit): 0.17 prints `(?)` and reports `strftime returned 0` on stderr.
pub const FAILED: &str = "(?)";

/// Largest output we let the C library write; past it the format is treated as failed.
const MAX_OUTPUT: usize = 64 * 1024;

/// Formats the wall-clock time `secs` + `nanos` (Unix epoch) with `fmt`, in local time (as
/// `time()` and `strftime()` do; `TZ` applies) or UTC. `%f` is replaced by the microseconds,
/// zero-padded to six digits, before the C library sees the format; `%%f` stays a literal
/// `%f` (0.17 mangles that case into a failure). Returns `None` when the C library wrote
/// nothing, which includes an empty format: print [`FAILED`] then, as 0.17 does.
pub fn format_time(fmt: &str, secs: i64, nanos: u32, local: bool) -> Option<String> {
    let micros = format!("{:06}", (nanos / 1000).min(999_999));
    let mut c_fmt = String::with_capacity(fmt.len() + 8);
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            c_fmt.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => c_fmt.push_str(&micros),
            Some(next) => {
                c_fmt.push('%');
                c_fmt.push(next);
            }
            None => c_fmt.push('%'),
        }
    }
    // A NUL would end the C string early; 0.17 formats only up to it as well.
    let c_fmt = match c_fmt.find('\0') {
        Some(at) => &c_fmt[..at],
        None => &c_fmt[..],
    };
    let mut bytes = c_fmt.as_bytes().to_vec();
    bytes.push(0);
    c_strftime(&bytes, secs, local).map(|out| String::from_utf8_lossy(&out).into_owned())
}

/// [`format_time`] with 0.17's `(?)` for a failed format.
pub fn strftime(fmt: &str, secs: i64, nanos: u32, local: bool) -> String {
    format_time(fmt, secs, nanos, local).unwrap_or_else(|| FAILED.to_string())
}

/// Breaks `secs` down (local or UTC) and runs the C library's `strftime` on `fmt`, which must
/// end with a NUL. The buffer grows until the output fits or [`MAX_OUTPUT`] is reached, since
/// a return of 0 means either "did not fit" or "empty output".
fn c_strftime(fmt: &[u8], secs: i64, local: bool) -> Option<Vec<u8>> {
    if fmt.last() != Some(&0) {
        return None;
    }
    let t = libc::time_t::try_from(secs).ok()?;
    let mut size = 128;
    loop {
        let mut buf = vec![0u8; size];
        // SAFETY: `t` and `tm` are valid locals for the duration of the calls; `fmt` is
        // NUL-terminated (checked above); `buf` is writable for `buf.len()` bytes and strftime
        // writes at most that many (including the NUL) and returns the count without it.
        let written = unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            let ok = if local {
                libc::localtime_r(&t, &mut tm)
            } else {
                libc::gmtime_r(&t, &mut tm)
            };
            if ok.is_null() {
                return None;
            }
            libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr().cast(), &tm)
        };
        if written > 0 {
            buf.truncate(written);
            return Some(buf);
        }
        if size >= MAX_OUTPUT {
            return None;
        }
        size *= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats() {
        // 2021-03-04 05:06:07.000089 UTC.
        let secs = 1_614_834_367;
        assert_eq!(
            strftime("%Y-%m-%d %H:%M:%S", secs, 89_123, false),
            "2021-03-04 05:06:07"
        );
        assert_eq!(
            strftime("%H:%M:%S.%f", secs, 89_123, false),
            "05:06:07.000089"
        );
        assert_eq!(strftime("%f%f", secs, 999_999_999, false), "999999999999");
        assert_eq!(strftime("%%f|%%%f|%", secs, 1_000, false), "%f|%000001|%");
        assert_eq!(strftime("%z %Z", secs, 0, false), "+0000 GMT");
        assert_eq!(strftime(DEFAULT_TIME_FORMAT, secs, 0, false), "05:06:07\n");
    }

    #[test]
    fn failures() {
        assert_eq!(format_time("", 0, 0, true), None);
        assert_eq!(strftime("", 0, 0, true), "(?)");
        assert_eq!(strftime("a\0b", 0, 0, false), "a");
        // Long outputs still fit (the buffer grows).
        let long = "%Y".repeat(1000);
        assert_eq!(strftime(&long, 0, 0, false).len(), 4000);
        // Times the C library cannot break down fail instead of panicking.
        let _ = format_time("%Y", i64::MAX, u32::MAX, true);
        let _ = format_time("%Y", i64::MIN, 0, false);
    }
}
