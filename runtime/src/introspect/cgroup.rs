//! Cgroup ids to paths, for `cgroup_path(id)`: a cgroup's id is the inode number of its
//! directory in a cgroup file system, so the path is found by searching every mounted
//! hierarchy for a directory with that inode. Like bpftrace, the answer names each hierarchy
//! that has one (`unified:/user.slice,cpu:/`): the cgroup2 one first, then the v1 ones by name.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A mounted cgroup hierarchy: its name (`unified` for cgroup2, the controllers or the
/// `name=` of a v1 one) and where it is mounted.
struct Hierarchy {
    name: String,
    root: PathBuf,
}

/// The mounted hierarchies, cgroup2 first and the v1 ones sorted by name; a hierarchy
/// mounted twice (in a chroot, say) is counted once, at its first mount.
fn hierarchies() -> Vec<Hierarchy> {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return Vec::new();
    };
    let mut unified: Vec<Hierarchy> = Vec::new();
    let mut v1: Vec<Hierarchy> = Vec::new();
    for line in mounts.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, dir, fstype, options, ..] = fields.as_slice() else {
            continue;
        };
        let root = PathBuf::from(unescape_mount_path(dir));
        let (list, name) = match *fstype {
            "cgroup2" => (&mut unified, "unified".to_string()),
            "cgroup" => (&mut v1, v1_name(options)),
            _ => continue,
        };
        if !list.iter().any(|h| h.name == name) {
            list.push(Hierarchy { name, root });
        }
    }
    v1.sort_by(|a, b| a.name.cmp(&b.name));
    unified.extend(v1);
    unified
}

/// The name of a v1 hierarchy from its mount options: its controllers (`cpu,cpuacct`), or
/// the name it was given (`name=systemd` is `systemd`).
fn v1_name(options: &str) -> String {
    let generic = [
        "rw",
        "ro",
        "relatime",
        "noatime",
        "nosuid",
        "nodev",
        "noexec",
        "nsdelegate",
        "clone_children",
        "xattr",
        "noprefix",
        "cpuset_v2_mode",
    ];
    let mut parts = Vec::new();
    for option in options.split(',') {
        if let Some(name) = option.strip_prefix("name=") {
            return name.to_string();
        }
        if !generic.contains(&option) && !option.contains('=') {
            parts.push(option);
        }
    }
    parts.join(",")
}

/// /proc/self/mounts writes a space in a path as `\040`, and other bytes likewise in octal.
fn unescape_mount_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory under `dir` (itself included) whose inode is `id`, searched depth first.
fn find_inode(dir: &Path, id: u64) -> Option<PathBuf> {
    let meta = std::fs::symlink_metadata(dir).ok()?;
    if meta.ino() == id {
        return Some(dir.to_path_buf());
    }
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .find_map(|e| find_inode(&e.path(), id))
}

/// `cgroup_path(id[, filter])` as bpftrace prints it: `name:/path` for each hierarchy holding
/// a cgroup with that id, joined by commas; empty when none does. With a filter, only the
/// hierarchies whose name it matches, as a wildcard (`cpu*`).
pub fn cgroup_path(id: u64, filter: Option<&str>) -> String {
    let wanted = |name: &str| match filter {
        None => true,
        Some(f) => glob::Pattern::new(f).map_or(name == f, |p| p.matches(name)),
    };
    hierarchies()
        .into_iter()
        .filter(|h| wanted(&h.name))
        .filter_map(|h| {
            let dir = find_inode(&h.root, id)?;
            let rel = dir.strip_prefix(&h.root).ok()?;
            Some(format!("{}:/{}", h.name, rel.display()))
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_names_come_from_controllers_or_name() {
        assert_eq!(v1_name("rw,relatime,cpu"), "cpu");
        assert_eq!(
            v1_name("rw,nosuid,nodev,noexec,relatime,cpu,cpuacct"),
            "cpu,cpuacct"
        );
        assert_eq!(v1_name("rw,relatime,xattr,name=systemd"), "systemd");
    }

    #[test]
    fn the_root_of_the_cgroup2_hierarchy_is_unified_slash() {
        // Only where cgroup2 is mounted: the id of its root directory names it `unified:/`.
        let Some(h) = hierarchies().into_iter().find(|h| h.name == "unified") else {
            return;
        };
        let Ok(meta) = std::fs::metadata(&h.root) else {
            return;
        };
        let path = cgroup_path(meta.ino(), None);
        assert!(path.split(',').any(|p| p == "unified:/"), "{path}");
        assert_eq!(cgroup_path(meta.ino(), Some("unif*")), "unified:/");
        assert_eq!(cgroup_path(meta.ino(), Some("nomatch")), "");
    }

    #[test]
    fn mount_paths_unescape_octal() {
        assert_eq!(unescape_mount_path("/a\\040b"), "/a b");
        assert_eq!(unescape_mount_path("/plain"), "/plain");
    }
}
