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

impl lang::ImportFiles for DiskImports {
    fn read(&self, path: &str) -> Result<Vec<(String, String)>, String> {
        let full = self.base.join(path);
        let shown = full.display().to_string();
        let read =
            |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
        if full.is_dir() {
            let entries = std::fs::read_dir(&full).map_err(|e| format!("{shown}: {e}"))?;
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "bt") && p.is_file())
                .collect();
            files.sort();
            return files
                .iter()
                .map(|p| Ok((p.display().to_string(), read(p)?)))
                .collect();
        }
        match std::fs::read_to_string(&full) {
            Ok(text) => Ok(vec![(shown, text)]),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("there is no {shown}"))
            }
            Err(e) => Err(format!("{shown}: {e}")),
        }
    }
}
