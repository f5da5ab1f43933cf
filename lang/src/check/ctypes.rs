//! C types as scripts and tracepoint formats write them (`unsigned int`, `const char *`,
//! `char[16]`, `struct sock *`, `u32`) mapped to rbt's [`Type`]s, and the layout of structs
//! defined in scripts.

use super::diagnostics;
use super::Checker;
use crate::ast::{CField, TypeExpr, TypeName};
use stdlib::types::{AddrSpace, Field, Record, Type};

/// The most bytes an array type written in a script may take (256 MiB): sixteen of them
/// still fit the `u32` sizes of tuples and records. Values live in at most 1 MiB of scratch
/// memory anyway; bigger arrays only make sense behind pointers.
const MAX_ARRAY_BYTES: u32 = 1 << 28;

/// Integer types by C or bpftrace name: (bits, signed).
fn int_by_name(name: &str) -> Option<(u8, bool)> {
    let n: String = name
        .split_whitespace()
        .filter(|w| !matches!(*w, "const" | "volatile"))
        .collect::<Vec<_>>()
        .join(" ");
    Some(match n.as_str() {
        "uint8" | "u8" | "__u8" | "unsigned char" | "uint8_t" | "bool" | "_Bool" => (8, false),
        "int8" | "s8" | "__s8" | "char" | "signed char" | "int8_t" => (8, true),
        "uint16" | "u16" | "__u16" | "unsigned short" | "uint16_t" | "__be16" | "__le16"
        | "umode_t" => (16, false),
        "int16" | "s16" | "__s16" | "short" | "signed short" | "int16_t" => (16, true),
        "uint32" | "u32" | "__u32" | "unsigned" | "unsigned int" | "uint32_t" | "__be32"
        | "__le32" | "uid_t" | "gid_t" | "dev_t" | "gfp_t" | "fmode_t" | "__kernel_dev_t" => {
            (32, false)
        }
        "int32" | "s32" | "__s32" | "int" | "signed" | "signed int" | "int32_t" | "pid_t"
        | "key_serial_t" | "clockid_t" => (32, true),
        "uint64" | "u64" | "__u64" | "unsigned long" | "unsigned long long" | "uint64_t"
        | "size_t" | "__be64" | "__le64" | "sector_t" | "dma_addr_t" | "unsigned long int"
        | "long unsigned int" | "cputime_t" | "ino_t" | "__kernel_size_t" | "u_long" | "ulong" => {
            (64, false)
        }
        "int64" | "s64" | "__s64" | "long" | "long long" | "int64_t" | "ssize_t" | "loff_t"
        | "off_t" | "long int" | "signed long" | "time64_t" | "ktime_t" | "__kernel_ssize_t" => {
            (64, true)
        }
        _ => return None,
    })
}

/// Parses a C type string from a tracepoint format (`const char * filename`'s type part).
pub fn parse_c_type(text: &str, size: u32, signed: bool, user: bool) -> Type {
    let t = text.trim();
    if let Some((base, rest)) = t.split_once('[') {
        let len: u32 = rest.trim_end_matches(']').trim().parse().unwrap_or(0);
        let elem = parse_c_type(base, 0, signed, user);
        // C's character types make strings; byte typedefs (`__u8 saddr[4]`) are integer
        // arrays, as bpftrace 0.27 types tracepoint fields.
        let words: Vec<&str> = base
            .split_whitespace()
            .filter(|w| !matches!(*w, "const" | "volatile" | "__user"))
            .collect();
        let character = matches!(
            words.as_slice(),
            ["char"] | ["unsigned", "char"] | ["signed", "char"]
        );
        if matches!(elem, Type::Int { bits: 8, .. }) && character {
            return Type::Str { len: len.max(1) };
        }
        return Type::Array {
            elem: Box::new(elem),
            len,
        };
    }
    if let Some(base) = t.strip_suffix('*') {
        let to = parse_c_type(base, 0, signed, user);
        let space = if user || base.contains("__user") {
            AddrSpace::User
        } else {
            AddrSpace::Kernel
        };
        return Type::Pointer {
            to: Box::new(to),
            space,
        };
    }
    let cleaned: String = t
        .split_whitespace()
        .filter(|w| {
            !matches!(
                *w,
                "const" | "volatile" | "__user" | "__attribute__((btf_type_tag(\"user\")))"
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    if let Some((bits, s)) = int_by_name(&cleaned) {
        return Type::Int { bits, signed: s };
    }
    if cleaned.starts_with("struct ") || cleaned.starts_with("union ") {
        return Type::Record(Box::new(Record {
            name: cleaned,
            size: size.max(8),
            fields: Vec::new(),
        }));
    }
    match size {
        1 | 2 | 4 | 8 => Type::Int {
            bits: (size * 8) as u8,
            signed,
        },
        _ => Type::Int { bits: 64, signed },
    }
}

impl Checker<'_> {
    /// The type of a value a cast or `let` makes: as [`Checker::resolve_type`], but a plain
    /// `void` (which `void *` points to) is refused, as it has no values.
    pub(super) fn resolve_value_type(&mut self, t: &TypeExpr) -> Option<Type> {
        if matches!(&t.base, TypeName::Named(n) if n == "void")
            && t.pointers == 0
            && t.array.is_empty()
        {
            self.push(diagnostics::void_value(t.span));
            return None;
        }
        self.resolve_type(t)
    }

    /// Resolves a written type (casts, `sizeof`, struct fields) to a [`Type`], or None after
    /// reporting why there is none. An array written in the script is at most
    /// [`MAX_ARRAY_BYTES`] long, so that sizes and offsets of the types built from it stay
    /// far inside `u32`.
    pub(super) fn resolve_type(&mut self, t: &TypeExpr) -> Option<Type> {
        // Only a cast has an operand to take an array's length from.
        if t.auto_array {
            self.push(diagnostics::array_length_needed(t.span));
            return None;
        }
        let mut base = match &t.base {
            TypeName::Named(n) => match n.as_str() {
                "void" => Type::Int {
                    bits: 8,
                    signed: false,
                },
                "string" => Type::Str {
                    len: self.opts.config.strlen(),
                },
                "buffer" => Type::Buffer { len: 64 },
                // bpftrace's own `bool` (0.24+), printed as true/false; C's `_Bool` in
                // structs stays a one-byte integer.
                "bool" => Type::Bool,
                // Floating point takes its room in a struct; reading it is refused.
                "float" => Type::Float { bits: 32 },
                "double" => Type::Float { bits: 64 },
                _ => match int_by_name(n) {
                    Some((bits, signed)) => Type::Int { bits, signed },
                    None => {
                        if let Some(r) = self.lookup_record(n) {
                            Type::Record(Box::new(r))
                        } else {
                            self.push(diagnostics::unknown_type(n, t.span));
                            return None;
                        }
                    }
                },
            },
            TypeName::Struct(n) | TypeName::Union(n) => {
                let kw = if matches!(t.base, TypeName::Union(_)) {
                    "union"
                } else {
                    "struct"
                };
                let full = format!("{kw} {n}");
                match self.lookup_record(&full) {
                    Some(r) => Type::Record(Box::new(r)),
                    // A pointer to an unknown struct is still a valid pointer; only a
                    // member access through it needs the layout.
                    None if t.pointers > 0 => Type::Record(Box::new(Record {
                        name: full,
                        size: 0,
                        fields: Vec::new(),
                    })),
                    None => {
                        self.push(diagnostics::unknown_record(&full, t.span));
                        return None;
                    }
                }
            }
            // A cast to a script enum gives values that print by name; other enums are
            // plain integers.
            TypeName::Enum(n) => self.enums.get(n).cloned().unwrap_or(Type::Int {
                bits: 64,
                signed: false,
            }),
            // Only the expression's type is kept: `typeof` never evaluates it.
            TypeName::Typeof(e) => match self.expr(e).ty {
                Type::None => return None,
                ty => ty,
            },
            TypeName::AnonRecord { union, fields } => {
                let r = super::ctypes::layout_record(
                    self,
                    "anonymous",
                    fields,
                    *union,
                    super::ctypes::Packing::default(),
                )?;
                Type::Record(Box::new(r))
            }
        };
        for _ in 0..t.pointers {
            base = Type::Pointer {
                to: Box::new(base),
                space: self.probe.cast_space,
            };
        }
        // As in bpftrace 0.27, an array of plain `char` is a string; arrays of other bytes
        // (`unsigned char`, `uint8_t`, `int8`) are integer arrays.
        let chars = matches!(&t.base, TypeName::Named(n) if n == "char");
        for &len in t.array.iter().rev() {
            let bytes = u64::from(base.size().max(1)).checked_mul(len);
            let Some(len) = bytes
                .filter(|b| *b <= u64::from(MAX_ARRAY_BYTES))
                .and_then(|_| u32::try_from(len).ok())
            else {
                self.push(diagnostics::array_too_large(
                    len,
                    &base,
                    MAX_ARRAY_BYTES,
                    t.span,
                ));
                return None;
            };
            base = match base {
                Type::Int { bits: 8, .. } if chars => Type::Str { len },
                other => Type::Array {
                    elem: Box::new(other),
                    len,
                },
            };
        }
        Some(base)
    }

    pub(super) fn lookup_record(&mut self, name: &str) -> Option<Record> {
        if let Some(r) = self.records.get(name) {
            return Some(r.clone());
        }
        // A uprobe's own program describes its types best: its debug info comes before
        // the kernel's BTF.
        if matches!(
            self.probe.provider,
            Some(crate::ast::Provider::Uprobe | crate::ast::Provider::Uretprobe)
        ) {
            let paths: Vec<String> = self
                .probe
                .user_targets
                .iter()
                .map(|(p, _)| p.clone())
                .collect();
            if let Some(r) = paths.iter().find_map(|p| self.catalog.user_record(p, name)) {
                return Some(r);
            }
        }
        let r = self.catalog.record(name)?;
        self.records.insert(name.to_string(), r.clone());
        Some(r)
    }
}

/// The alignment C gives a value of type `t`: a record is aligned like its most aligned
/// field (`struct { int x; int y; }` to 4), an array like its elements. A record whose fields
/// are unknown takes the largest alignment, 8.
fn c_align(t: &Type) -> u32 {
    match t {
        Type::Record(r) if !r.fields.is_empty() => {
            r.fields.iter().map(|f| c_align(&f.ty)).max().unwrap_or(1)
        }
        Type::Array { elem, .. } => c_align(elem),
        other => other.align().max(1),
    }
}

/// How a script-defined record is laid out: GCC's `packed` and `aligned(n)` attributes.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Packing {
    pub packed: bool,
    pub aligned: Option<u64>,
}

/// Lays out a script-defined struct or union with C's natural alignment (or none, when
/// packed). Bit-fields follow the System V ABI that GCC uses: a bit-field starts at the next
/// free bit unless it would cross a boundary of its declared type's size.
pub(super) fn layout_record(
    c: &mut Checker<'_>,
    name: &str,
    fields: &[CField],
    union: bool,
    packing: Packing,
) -> Option<Record> {
    let mut out = Vec::new();
    // Positions are counted in bits, so bit-fields can share bytes.
    let mut bit = 0u64;
    let mut size = 0u64;
    let mut align = 1u32;
    for f in fields {
        let ty = c.resolve_type(&f.ty)?;
        let a = if packing.packed { 1 } else { c_align(&ty) };
        align = align.max(a);
        let fsize = u64::from(ty.size());
        let start = if union { 0 } else { bit };
        if let Some(width) = f.bits {
            let unit = (fsize * 8).max(1);
            let mut at = start;
            if !packing.packed && width > 0 && at / unit != (at + width - 1) / unit {
                at = at.div_ceil(unit) * unit;
            }
            let end = at + width;
            bit = if union { bit.max(end) } else { end };
            size = size.max(end.div_ceil(8));
            if let Some(n) = &f.name {
                out.push(Field {
                    name: n.name.clone(),
                    offset: (at / 8) as u32,
                    ty,
                    bitfield: Some(((at % 8) as u8, width.min(64) as u8)),
                    data_loc: false,
                    btf_enum: false,
                });
            }
            continue;
        }
        let offset = start.div_ceil(8).div_ceil(u64::from(a)) * u64::from(a);
        let end = offset + fsize;
        bit = if union { bit.max(end * 8) } else { end * 8 };
        size = size.max(end);
        if let Some(n) = &f.name {
            out.push(Field {
                name: n.name.clone(),
                offset: offset as u32,
                ty,
                bitfield: None,
                data_loc: false,
                btf_enum: false,
            });
        } else if let Type::Record(inner) = ty {
            // Anonymous members: their fields are reachable directly.
            out.extend(inner.fields.into_iter().map(|mut x| {
                x.offset += offset as u32;
                x
            }));
        }
    }
    if let Some(n) = packing.aligned {
        align = align.max(u32::try_from(n).unwrap_or(u32::MAX));
    }
    let align = u64::from(align);
    Some(Record {
        name: name.to_string(),
        size: u32::try_from(size.div_ceil(align) * align).unwrap_or(u32::MAX),
        fields: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracepoint_types() {
        assert_eq!(
            parse_c_type("int", 4, true, false),
            Type::Int {
                bits: 32,
                signed: true
            }
        );
        assert_eq!(
            parse_c_type("char[16]", 16, true, false),
            Type::Str { len: 16 }
        );
        assert_eq!(
            parse_c_type("__u8[4]", 4, false, false),
            Type::Array {
                elem: Box::new(Type::Int {
                    bits: 8,
                    signed: false
                }),
                len: 4
            }
        );
        assert!(matches!(
            parse_c_type("const char *", 8, false, true),
            Type::Pointer {
                space: AddrSpace::User,
                ..
            }
        ));
        assert_eq!(
            parse_c_type("unsigned long", 8, false, false),
            Type::Int {
                bits: 64,
                signed: false
            }
        );
    }
}
