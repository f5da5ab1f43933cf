//! The files `import "path"` reads, for the front end (`lang::ImportFiles`): a path is taken
//! from the main script's directory (the current one for `-e` and stdin), as bpftrace takes
//! it, also in a file that an imported file imports; a directory gives its `.bt` files in
//! name order.

use std::path::{Path, PathBuf};

pub struct DiskImports {
    /// The main script's directory; empty for the current one.
    base: PathBuf,
}

impl DiskImports {
    /// For the script at `script_path`, or read from `-e`/stdin when `None`.
    pub fn new(script_path: Option<&str>) -> DiskImports {
        let base = script_path
            .and_then(|p| Path::new(p).parent())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        DiskImports { base }
    }
}

/// Scripts are small; a larger file is refused rather than read whole into memory.
const MAX_FILE_BYTES: u64 = 16 << 20;

impl lang::ImportFiles for DiskImports {
    fn read(&self, path: &str) -> Result<Vec<(String, String)>, String> {
        let full = self.base.join(path);
        let shown = full.display().to_string();
        let meta = std::fs::metadata(&full).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("there is no {shown}"),
            _ => format!("{shown}: {e}"),
        })?;
        if !meta.is_dir() {
            return Ok(vec![(shown, read_script(&full, &meta)?)]);
        }
        let entries = std::fs::read_dir(&full).map_err(|e| format!("{shown}: {e}"))?;
        let mut files: Vec<(PathBuf, std::fs::Metadata)> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "bt"))
            .filter_map(|p| std::fs::metadata(&p).ok().map(|m| (p, m)))
            .filter(|(_, m)| m.is_file())
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files
            .iter()
            .map(|(p, m)| Ok((p.display().to_string(), read_script(p, m)?)))
            .collect()
    }
}

/// A regular file's text (`meta` is its metadata): not a device or a pipe, which could block
/// or never end, nor a file larger than any script.
fn read_script(path: &Path, meta: &std::fs::Metadata) -> Result<String, String> {
    let shown = path.display();
    if !meta.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{shown} is {} bytes, more than a script may be ({MAX_FILE_BYTES})",
            meta.len()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))
}
