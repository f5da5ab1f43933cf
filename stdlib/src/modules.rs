//! The standard-library modules a script can `import "stdlib/NAME";`, as bpftrace 0.27
//! scripts do. A module is rbt source text (macros, and whatever else a script may define at
//! its top level) built into the binary, so importing never reads a file; `lang::parse` reads
//! the module as if its items were written where the `import` is.
//!
//! bpftrace 0.27 keeps the C implementations of many builtins in modules of the same names
//! (`stdlib/strings` holds `strerror`'s, for example) and imports them itself; in rbt those
//! functions are builtins, so those modules are accepted and bring no new names. Only
//! `stdlib/test` defines names of its own.

/// One module: the name a script imports it by, and its source.
pub struct Module {
    pub name: &'static str,
    pub source: &'static str,
}

/// Every module, sorted by name.
pub const MODULES: &[Module] = &[
    Module {
        name: "stdlib/base",
        source: "",
    },
    Module {
        name: "stdlib/map",
        source: "",
    },
    Module {
        name: "stdlib/process",
        source: "",
    },
    Module {
        name: "stdlib/stack",
        source: "",
    },
    Module {
        name: "stdlib/strings",
        source: "",
    },
    Module {
        name: "stdlib/system",
        source: "",
    },
    Module {
        name: "stdlib/task",
        source: "",
    },
    Module {
        name: "stdlib/test",
        source: include_str!("../modules/test.bt"),
    },
    Module {
        name: "stdlib/usdt",
        source: "",
    },
];

/// The module imported as `name` (`stdlib/test`; a trailing `/` is allowed, as for a
/// directory).
pub fn find(name: &str) -> Option<&'static Module> {
    let name = name.strip_suffix('/').unwrap_or(name);
    MODULES.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_sorted_and_found_by_name() {
        assert!(MODULES.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(find("stdlib/test").map(|m| m.name), Some("stdlib/test"));
        assert_eq!(find("stdlib/test/").map(|m| m.name), Some("stdlib/test"));
        assert!(find("stdlib/tes").is_none());
        assert!(find("stdlib").is_none());
        assert!(find("test").is_none());
    }
}
