//! Every diagnostic the checker emits, one small constructor each: its message, label, help
//! and notes are written here and nowhere else, so the wording of the checker's errors can be
//! read (and kept consistent) in one file. Checker sites only decide *that* something is
//! wrong and pass the facts. Messages about a builtin's rules (arity, `--unsafe`, where it is
//! valid) take its record from `stdlib::builtins`, so they follow the table.

use crate::ast::{BinaryOp, Provider, Span};
use stdlib::builtins::{Arity, Spec, Valid};
use stdlib::diag::{closest, Diagnostic};
use stdlib::types::{agg_name, Aggregation, Type};

// ---------------------------------------------------------------------------------------
// Scripts, definitions, attach points

pub fn no_probes(span: Span) -> Diagnostic {
    Diagnostic::error("the script has no probes", span)
        .with_help("add one, e.g. BEGIN { printf(\"hello\\n\"); }")
}

/// A lookup in the system catalog failed; its error already says why, in words.
pub fn lookup_failed(message: String, span: Span) -> Diagnostic {
    Diagnostic::error(message, span)
}

/// A uprobe or usdt target that the catalog cannot resolve (unreadable binary, …).
pub fn unresolvable_probe(message: String, span: Span) -> Diagnostic {
    Diagnostic::error(message, span).with_label("cannot resolve this probe")
}

pub fn invalid_offset(provider: Provider, offset: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "invalid offset `{offset}` in {} attach point",
            provider.name()
        ),
        span,
    )
    .with_label("expected a number after `+`")
    .with_help("write the offset in decimal or in hex with 0x, e.g. function+0x10")
}

pub fn positional_offset_past_end(span: Span) -> Diagnostic {
    Diagnostic::warning("this string is always empty", span)
        .with_label("the offset is at or past the end of the parameter's text")
}

pub fn positional_not_set(digits: &str, span: Span) -> Diagnostic {
    let args = match digits.parse::<usize>() {
        Ok(n @ 0..=3) => "ARG ".repeat(n).trim_end().to_string(),
        _ => format!("ARG1 ... ARG{digits}"),
    };
    Diagnostic::error(format!("positional parameter ${digits} is not set"), span)
        .with_help(format!("pass it after the script: rbt script.bt {args}"))
}

/// Load-only mode: `what` matched nothing but is compiled anyway; `last` is the attach
/// point's last field, `candidates` names close to it.
pub fn matches_nothing_loaded_anyway(
    what: &str,
    last: &str,
    candidates: &[String],
    span: Span,
) -> Diagnostic {
    Diagnostic::warning(format!("{what} matches nothing on this system"), span)
        .with_label("compiled and loaded anyway; attaching it would fail")
        .with_suggestion(last, candidates.iter().map(String::as_str))
}

pub fn unsupported_self_trigger(trigger: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("`{trigger}` is not a supported self trigger"), span)
        .with_help("the self probe has one trigger: self:signal:SIGUSR1")
}

pub fn unsupported_self_signal(signal: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{signal} is not a supported signal"), span)
        .with_help("self:signal probes handle SIGUSR1 only (send it with `kill -USR1 PID`)")
}

pub fn malformed_attach_point(provider: Provider, expected: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("malformed {} attach point", provider.name()), span)
        .with_label(format!("expected {expected}"))
}

/// `what` matched nothing; the help names the candidate closest to `last` (the attach
/// point's last field), or else the catalog's first candidate, and a note says how to run
/// without it (bpftrace 0.17 skipped such attach points silently; 0.27 refuses them too).
pub fn no_probe_matched(what: &str, last: &str, candidates: &[String], span: Span) -> Diagnostic {
    let d = Diagnostic::error(format!("{what} matched no probe"), span)
        .with_label("no such probe")
        .with_note(
            "to run without the attach points that match nothing here, set \
             `config = { missing_probes = \"warn\" }`",
        );
    match closest(last, candidates.iter().map(String::as_str))
        .or(candidates.first().map(String::as_str))
    {
        Some(best) => d.with_help(format!("did you mean `{best}`?")),
        None => d,
    }
}

/// `missing_probes=warn`: the attach point that matched nothing is dropped, in bpftrace's
/// words (`No matches for tracepoint cat:event. Skipping.`).
pub fn missing_probe_skipped(what: &str, span: Span) -> Diagnostic {
    let shown = what.replacen(':', " ", 1);
    Diagnostic::warning(format!("No matches for {shown}. Skipping."), span)
        .with_label("no such probe")
}

pub fn return_probe_offset(provider: Provider, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{} attach points take no offset", provider.name()),
        span,
    )
    .with_label("a return probe fires where the function returns")
    .with_help("to probe an instruction inside the function, use kprobe:function+offset")
}

/// A kprobe on a kernel built without them; `tracepoint_exists` says whether a tracepoint
/// of the function's name could replace it.
pub fn kprobes_unavailable(
    provider: Provider,
    func: &str,
    tracepoint_exists: bool,
    span: Span,
) -> Diagnostic {
    let name = provider.name();
    let mut d = Diagnostic::error(
        format!("this kernel was built without kprobes (CONFIG_KPROBES is not set), so {name}:{func} cannot attach"),
        span,
    )
    .with_label("kprobes are unavailable here");
    if tracepoint_exists {
        d = d.with_help(format!(
            "a tracepoint with this name exists: tracepoint:*:{func}"
        ));
    }
    let instead = if provider == Provider::Kretprobe {
        Provider::Kretfunc.name()
    } else {
        Provider::Kfunc.name()
    };
    d.with_help(format!(
        "use a tracepoint, or {instead}:{func} where the kernel allows fentry; `--dry-run` still loads the program so the verifier checks it"
    ))
}

/// A kprobe on a kernel function that exists but is not in the list of traceable functions
/// (`available_filter_functions`, or `--traceable-functions FILE`): attaching could harm the
/// kernel or fail, so only `--unsafe` attaches it.
pub fn kprobe_not_traceable(provider: Provider, func: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "{}:{func} cannot attach: {func} is not a traceable kernel function (inlined, or marked notrace)",
            provider.name()
        ),
        span,
    )
    .with_label("not in the list of traceable kernel functions")
    .with_help("run with --unsafe to attach to it anyway")
}

/// A kprobe on a kernel function that the kernel's own list of traceable functions leaves
/// out (`stdlib::catalog::Untraceable::KernelList`): attached, with a warning.
pub fn kprobe_not_in_kernel_list(provider: Provider, func: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        format!(
            "{func} is not in the kernel's list of traceable functions (it is inlined in places, or marked notrace); {}:{func} is attached to its symbol anyway",
            provider.name()
        ),
        span,
    )
    .with_label("not in available_filter_functions")
    .with_note("calls inlined into other functions are not seen; bpftrace 0.27 attaches it only with --unsafe")
}

/// `--unsafe` and a kprobe on a function that is not traceable: it is attached anyway.
pub fn kprobe_not_traceable_unsafe(provider: Provider, func: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        format!(
            "{func} is not a traceable kernel function (inlined, or marked notrace); attaching {}:{func} will likely fail",
            provider.name()
        ),
        span,
    )
    .with_label("not in the list of traceable kernel functions")
}

/// `missing_probes=warn` on a kernel without kprobes: the kprobe is dropped.
pub fn kprobe_skipped_without_kprobes(provider: Provider, func: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        format!(
            "this kernel was built without kprobes (CONFIG_KPROBES is not set), so {}:{func} is skipped",
            provider.name()
        ),
        span,
    )
    .with_label("kprobes are unavailable here")
}

/// Every attach point of the script matched nothing and `missing_probes` dropped them all.
pub fn all_probes_missing(span: Span) -> Diagnostic {
    Diagnostic::error(
        "no probes to attach: every attach point matches nothing here and was skipped",
        span,
    )
    .with_help("missing_probes = error (the default) says which attach points are missing")
}

/// The note printed when a kprobe attaches to a compiler-renamed symbol (`.isra.0`).
pub fn renamed_symbol_note(provider: Provider, func: &str, symbol: &str) -> String {
    format!(
        "{}:{func}: attaching to `{symbol}` (the compiler renamed {func})",
        provider.name()
    )
}

pub fn unknown_unit(provider: Provider, unit: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("unknown {} unit `{unit}`", provider.name()), span)
        .with_suggestion(unit, ["hz", "s", "ms", "us", "ns"])
        .with_help("units are hz, s, ms, us and ns")
}

/// `interval:5`, `profile:1.5s`: a one-field period that is not a duration of at least 1us.
pub fn perf_period_too_short(provider: Provider, period: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("invalid {} period `{period}`", provider.name()),
        span,
    )
    .with_label("expected a duration of at least 1us")
    .with_help("write a whole number and a unit (ns, us, ms, s, m, h, d), e.g. interval:100ms, or a unit and a number, e.g. interval:hz:99")
}

pub fn invalid_count(provider: Provider, count: &str, event: &str, span: Span) -> Diagnostic {
    let name = provider.name();
    Diagnostic::error(
        format!("invalid count `{count}` in {name} attach point"),
        span,
    )
    .with_label("expected the number of events between samples")
    .with_help(format!("e.g. {name}:{event}:100, decimal or hex with 0x"))
}

/// `uprobe:BIN:LANG:NAME` with a language other than `cpp`.
pub fn unknown_uprobe_language(provider: Provider, lang: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "unknown language `{lang}` in {} attach point",
            provider.name()
        ),
        span,
    )
    .with_label("the only language is `cpp`")
    .with_suggestion(lang, ["cpp"])
}

/// `fentry:bpf:ID:NAME` whose ID is not a program id.
pub fn invalid_bpf_program_id(provider: Provider, id: &str, span: Span) -> Diagnostic {
    let name = provider.name();
    Diagnostic::error(
        format!("invalid BPF program id `{id}` in {name} attach point"),
        span,
    )
    .with_label("expected a program id, a decimal number")
    .with_help(format!(
        "e.g. {name}:bpf:42:my_prog, or {name}:bpf:my_prog for every program of that name"
    ))
}

pub fn unknown_perf_event<'a>(
    provider: Provider,
    event: &str,
    names: impl IntoIterator<Item = &'a str>,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(format!("unknown {} event `{event}`", provider.name()), span)
        .with_suggestion(event, names)
}

pub fn invalid_watchpoint_address(provider: Provider, addr: &str, span: Span) -> Diagnostic {
    let name = provider.name();
    let d = Diagnostic::error(
        format!("invalid address `{addr}` in {name} attach point"),
        span,
    )
    .with_label("expected an address, decimal or hex with 0x");
    // bpftrace 0.17's `FUNC+argN` form (watch the address a function's argument holds)
    // was dropped in bpftrace 0.27; say so rather than only "not a number".
    if addr.contains("+arg") {
        d.with_help(format!(
            "watching a function argument (`{name}:func+argN:LEN:MODE`) is not supported, as in bpftrace 0.27; give the address, e.g. {name}:0x10000000:8:w"
        ))
    } else {
        d.with_help(format!("e.g. {name}:0x10000000:8:w"))
    }
}

pub fn invalid_watchpoint_length(provider: Provider, len: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("invalid watchpoint length `{len}`"), span)
        .with_label("a hardware breakpoint watches 1, 2, 4 or 8 bytes")
        .with_help(format!("e.g. {}:0x10000000:8:w", provider.name()))
}

pub fn invalid_watchpoint_mode(mode: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("invalid watchpoint mode `{mode}`"), span)
        .with_label("the hardware breaks on execution, writes, or reads and writes")
        .with_help("use x (execute), w (write) or rw (read or write)")
}

// ---------------------------------------------------------------------------------------
// Maps and variables

pub fn map_key_presence(map: &str, first: Span, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("map {map} is used both with and without a key"),
        span,
    )
    .with_secondary(first, "first used here")
}

pub fn map_key_type(map: &str, have: &Type, want: &Type, first: Span, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "map {map} key has type {}, but was first used with {}",
            want.display(),
            have.display()
        ),
        span,
    )
    .with_secondary(first, "first used here")
}

pub fn map_value_type(map: &str, have: &Type, want: &Type, first: Span, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "map {map} holds {}, but is assigned {}",
            have.display(),
            want.display()
        ),
        span,
    )
    .with_secondary(first, "type fixed here")
}

/// A probe whose program would use more maps than the kernel lets one program use;
/// `span` is the first use of the map past the limit.
pub fn too_many_maps(limit: usize, span: Span) -> Diagnostic {
    Diagnostic::error(format!("this probe uses more than {limit} maps"), span)
        .with_label(format!("map number {} of this probe", limit + 1))
        .with_note(format!(
            "the kernel lets one BPF program use at most {limit} maps (MAX_USED_MAPS), \
             and rbt's own maps (output, counters) count among them"
        ))
        .with_help(
            "spread the maps over several probes, or keep related values in one map under \
             different keys (`@m[\"a\"]`, `@m[\"b\"]`)",
        )
}

/// A `probe` kept in a variable or map (an id of the probe that stored it) meets strings,
/// which would need its text in the program.
pub fn held_probe_as_string(want: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "this value of `probe` cannot be stored as {}",
            want.display()
        ),
        span,
    )
    .with_label("a `probe` kept in a variable or map: the program knows which probe, not its name")
    .with_help("store `probe` itself where it meets strings (`@m[probe]`, `$name = probe`)")
}

/// `name` is the variable's name without its `$`.
pub fn variable_type(name: &str, have: &Type, want: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "variable ${name} holds {}, but is assigned {}",
            have.display(),
            want.display()
        ),
        span,
    )
    .with_help("a variable's type is fixed by its first assignment")
}

/// A constant stored in a variable whose written type (`let $b: uint8`, declared at `decl`)
/// cannot hold it; `name` is without its `$`.
pub fn constant_does_not_fit(
    name: &str,
    value: i128,
    declared: &Type,
    span: Span,
    decl: Span,
) -> Diagnostic {
    let ty = declared.display();
    Diagnostic::error(format!("{value} does not fit in ${name} ({ty})"), span)
        .with_label(format!("out of range for {ty}"))
        .with_secondary(decl, format!("declared as {ty} here"))
        .with_help(format!(
            "declare ${name} with a wider type, or cast to keep the low bits: `({ty}){value}`"
        ))
}

/// `name` and `known` are variable names without their `$`.
pub fn undefined_variable(name: &str, known: &[String], span: Span) -> Diagnostic {
    let known: Vec<String> = known.iter().map(|k| format!("${k}")).collect();
    Diagnostic::error(
        format!("variable ${name} is used before it is assigned"),
        span,
    )
    .with_label("undefined variable")
    .with_suggestion(&format!("${name}"), known.iter().map(String::as_str))
}

/// `cond ? printf(..) : 0`: one branch is a call that returns nothing, the other a value.
pub fn ternary_one_branch_returns_nothing(span: Span) -> Diagnostic {
    Diagnostic::error(
        "one branch of this `?:` returns nothing and the other a value",
        span,
    )
    .with_help("make both branches calls like printf(), or write an `if` statement")
}

/// `10 / 0`: a division or modulo of constants by zero.
pub fn constant_division_by_zero(span: Span) -> Diagnostic {
    Diagnostic::error("division by zero", span).with_label("the divisor is the constant 0")
}

/// `18446744073709551615 + 1`: arithmetic of literals whose result no 64-bit integer holds
/// (bpftrace 0.27 folds literals and refuses such a result rather than wrap it).
pub fn literal_overflow(span: Span) -> Diagnostic {
    Diagnostic::error("literal arithmetic overflows 64 bits", span)
        .with_label("the result does not fit")
        .with_help(
            "literals fold to an int64 when an operand is negative, else to an int64 or \
             uint64, and shift by 0 to 63 bits; cast an operand (`(uint64)x`) to compute \
             at run time, wrapping",
        )
}

/// `-9223372036854775809`: the negation of a literal above 2^63.
pub fn negative_literal_underflow(span: Span) -> Diagnostic {
    Diagnostic::error("negative literal below the 64-bit minimum", span)
        .with_label("the smallest 64-bit integer is -9223372036854775808")
        .with_help("write a value of -9223372036854775808 or more")
}

/// An expression statement whose value nothing uses.
pub fn value_discarded(span: Span) -> Diagnostic {
    Diagnostic::warning("the value of this expression is discarded", span)
        .with_help("write `_ = ...;` to discard a value on purpose")
}

/// `cpid` without a command to trace (`-c`): it is 0, as in bpftrace 0.25 and later.
pub fn cpid_without_command(span: Span) -> Diagnostic {
    Diagnostic::warning("cpid is 0: there is no command to trace", span)
        .with_label("always 0 in this run")
        .with_help("give the command with -c 'CMD', whose process id cpid then holds")
}

/// `return value;` in a probe, whose value is not an integer.
pub fn probe_return_value(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("a probe returns an integer, not {}", ty.display()),
        span,
    )
    .with_label("not an integer")
    .with_help("a probe's return value is its program's result (a `test:` probe fails on one that is not 0); cast a bool with `(int64)`")
}

/// A statement after `return`, `break`, `continue` or `exit()` in the same block.
pub fn unreachable_statement(span: Span) -> Diagnostic {
    Diagnostic::warning("unreachable statement", span)
        .with_label("never runs: the statement before it ends the probe or the loop iteration")
        .with_help("remove it, or move it before the `exit()`, `return`, `break` or `continue`")
}

/// A read of a variable whose block has ended; `decl` is where it was declared.
pub fn variable_out_of_scope(name: &str, span: Span, decl: Span) -> Diagnostic {
    Diagnostic::error(
        format!("variable ${name} is used outside the block that declares it"),
        span,
    )
    .with_label("not visible here")
    .with_secondary(decl, "declared here, inside a block that has ended")
    .with_help(format!(
        "declare it before the block, e.g. `let ${name};`, to use it after the block"
    ))
}

/// The 0.17 habit that 0.22+ rejects and rbt still runs (see `check::scope`).
pub fn variable_outside_block(name: &str, span: Span, decl: Span) -> Diagnostic {
    Diagnostic::warning(
        format!("variable ${name} is used outside the block that assigns it"),
        span,
    )
    .with_label("read after its block")
    .with_secondary(decl, "first assigned here, inside a block that has ended")
    .with_help(format!(
        "bpftrace 0.22 and later reject this: declare it before the block with `let ${name};`"
    ))
}

pub fn variable_shadowed(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(format!("variable ${name} is already declared"), span)
        .with_label("a second declaration")
        .with_secondary(first, "first declared here")
        .with_help(format!(
            "variables cannot be shadowed: assign the existing one with `${name} = ...`, or rename this one"
        ))
}

/// `let $x;` read, but never assigned, so it has no type.
pub fn variable_without_type(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("variable ${name} is read, but never assigned, so it has no type"),
        span,
    )
    .with_help(format!("give it one: `let ${name}: uint64;`"))
}

/// A `let $x;` read (as an integer) before an assignment made it a non-integer.
pub fn variable_read_before_typed(name: &str, ty: &Type, read: Span, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "variable ${name} is read before the assignment that makes it {}",
            ty.display()
        ),
        read,
    )
    .with_secondary(span, "its type comes from this assignment")
    .with_help(format!(
        "declare its type: `let ${name}: {};`",
        ty.display()
    ))
}

/// A map the script reads and never assigns: it stays empty, so it reads as 0 (bpftrace 0.27
/// accepts it so; 0.17 refused it as an undefined map).
pub fn map_read_unassigned(map: &str, known: &[String], span: Span) -> Diagnostic {
    Diagnostic::warning(format!("map {map} is read but never assigned"), span)
        .with_label("always 0: nothing writes this map")
        .with_suggestion(map, known.iter().map(String::as_str))
}

/// `let @m = kind(n);` with a kind bpftrace does not have.
pub fn unknown_map_kind(kind: &str, kinds: &[&str], span: Span) -> Diagnostic {
    Diagnostic::error(format!("unknown map kind `{kind}`"), span)
        .with_suggestion(kind, kinds.iter().copied())
        .with_help(format!("a map may be declared as {}", kinds.join(", ")))
}

/// A declaration's size that is not a positive integer literal.
pub fn map_size_not_positive(span: Span) -> Diagnostic {
    Diagnostic::error(
        "a map declaration needs a positive integer for its maximum number of entries",
        span,
    )
    .with_help("e.g. `let @m = hash(1000);`")
}

pub fn map_size_too_big(n: u64, span: Span) -> Diagnostic {
    Diagnostic::error(format!("a map cannot hold {n} entries"), span)
        .with_note(format!("the kernel's limit is {}", u32::MAX))
}

pub fn map_declaration_arguments(span: Span) -> Diagnostic {
    Diagnostic::error("a map declaration takes one argument", span)
        .with_help("e.g. `let @m = hash(1000);`")
}

pub fn map_declared_twice(map: &str, first: Span, span: Span) -> Diagnostic {
    Diagnostic::error(format!("map {map} is declared twice"), span)
        .with_secondary(first, "first declared here")
}

/// A declared map that no statement uses.
pub fn unused_map(map: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(format!("unused map {map}"), span)
}

/// A declared kind that cannot hold the map's values: aggregations need a per-CPU map, and
/// other values one that is not.
pub fn map_kind_conflict(
    map: &str,
    kind: &str,
    aggregation: bool,
    declaration: Span,
    use_span: Span,
) -> Diagnostic {
    let (why, help) = if aggregation {
        (
            "its values are aggregations, which need a per-CPU map",
            "declare it as percpuhash or percpulruhash",
        )
    } else {
        (
            "a per-CPU map holds only aggregations (count(), sum(), hist(), …)",
            "declare it as hash or lruhash",
        )
    };
    Diagnostic::error(
        format!("map {map} is declared as {kind}, but {why}"),
        use_span,
    )
    .with_secondary(declaration, "declared here")
    .with_help(help)
}

/// A map taken whole (`len`, `for`, `clear`, `zero`) that no statement assigns.
pub fn map_never_assigned(map: &str, known: &[String], span: Span) -> Diagnostic {
    Diagnostic::error(format!("map {map} is never assigned"), span)
        .with_label("undefined map")
        .with_suggestion(map, known.iter().map(String::as_str))
}

/// `len(@m)` of a map without keys.
pub fn len_of_scalar_map(map: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("len() expects a map with explicit keys, but {map} has none"),
        span,
    )
    .with_help(format!(
        "a map without keys holds one value: read it as {map}"
    ))
}

/// The same, where only the map is named (`print`, `delete`, `has_key`).
pub fn map_not_assigned(map: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("map {map} is never assigned"), span)
}

pub fn map_read_with_key(map: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("map {map} has no key, but is read with one"), span)
}

pub fn map_needs_key(map: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("map {map} needs a key"), span)
}

/// A map read or tested with a key of another type or arity than the one its
/// assignments fixed.
pub fn map_read_key_type(
    map: &str,
    have: &Type,
    want: &Type,
    first: Span,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        format!(
            "map {map} is used with a key of type {}, but its key has type {}",
            want.display(),
            have.display()
        ),
        span,
    )
    .with_secondary(first, "key type fixed here")
}

/// "a count map", "an avg map".
fn agg_article(agg: Aggregation) -> String {
    let name = agg_name(agg);
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

pub fn aggregation_read(agg: Aggregation, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{} map cannot be read in a probe", agg_article(agg)),
        span,
    )
    .with_help("it is printed when rbt exits, or with print()")
}

pub fn aggregation_iterated(agg: Aggregation, map: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{} map cannot be iterated with `for`", agg_article(agg)),
        span,
    )
    .with_help(format!("print it with print({map})"))
}

/// `what` names the taker: "`for`", "len()".
pub fn whole_map_not_a_map(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{what} takes a map, e.g. @m"), span)
}

pub fn whole_map_with_key(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{what} takes the whole map, without a key"), span)
}

pub fn map_without_keys_in_for(map: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("map {map} has no keys to iterate over"), span)
        .with_help(format!("read its one value directly: {map}"))
}

pub fn for_variable_type(
    name: &str,
    have: &Type,
    map: &str,
    want: &Type,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        format!(
            "variable ${name} holds {}, but `for` over {map} gives it {}",
            have.display(),
            want.display()
        ),
        span,
    )
    .with_help("use a new variable name for the loop")
}

pub fn aggregation_outside_map(func: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{func}() must be assigned to a map"), span)
}

pub fn aggregation_compound_assignment(span: Span) -> Diagnostic {
    Diagnostic::error(
        "aggregations cannot be combined with a compound assignment",
        span,
    )
}

pub fn no_value_to_store(span: Span) -> Diagnostic {
    Diagnostic::error("this expression has no value to store", span)
}

pub fn aggregation_assigned(map: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("map {map} holds an aggregation and cannot be assigned a value"),
        span,
    )
}

/// `element` when the target is an element of a value (`$t.0`, `$r.a`), which cannot be
/// changed in place.
pub fn not_assignable(element: bool, span: Span) -> Diagnostic {
    let d = Diagnostic::error("only variables ($x) and maps (@x) can be assigned to", span);
    if element {
        d.with_help(
            "tuples and records cannot be changed once made: build a new one and assign it \
             to the variable or map",
        )
    } else {
        d
    }
}

pub fn aggregation_arguments_changed(map: &str, func: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("map {map} was first used with different {func}() arguments"),
        span,
    )
}

// ---------------------------------------------------------------------------------------
// Statements

pub fn unroll_count(span: Span) -> Diagnostic {
    Diagnostic::error("unroll needs a constant count from 1 to 100", span)
}

/// `what` is `break` or `continue`.
pub fn outside_loop(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("`{what}` outside a loop"), span)
}

// ---------------------------------------------------------------------------------------
// Expressions and types

/// `what` names the place: "a predicate", "the left operand".
pub fn not_an_integer(what: &str, ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{what} must be an integer, but this is {}", ty.display()),
        span,
    )
}

pub fn ternary_types(then: &Type, otherwise: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "the branches of `?:` have different types: {} and {}",
            then.display(),
            otherwise.display()
        ),
        span,
    )
}

pub fn bad_cast(from: &Type, to: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("cannot cast {} to {}", from.display(), to.display()),
        span,
    )
}

pub fn index_not_constant(span: Span) -> Diagnostic {
    Diagnostic::error("array indices must be constant integers", span)
}

pub fn array_index_out_of_bounds(index: i64, len: u32, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("the index {index} is out of bounds for array of size {len}"),
        span,
    )
}

pub fn string_index_out_of_bounds(index: i64, len: u32, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("index {index} is out of bounds for string[{len}]"),
        span,
    )
}

pub fn not_indexable(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("cannot index a value of type {}", ty.display()),
        span,
    )
}

pub fn tuple_index_out_of_bounds(index: u32, len: usize, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("tuple index {index} is out of bounds for a tuple of {len}"),
        span,
    )
}

pub fn not_a_tuple(index: u32, ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("`.{index}` needs a tuple, but this is {}", ty.display()),
        span,
    )
}

/// `(a = 1, a = 2)`: a record names each field once.
pub fn duplicate_record_field(name: &str, first: Span, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("the record already has a field named `{name}`"),
        span,
    )
    .with_secondary(first, "first named here")
    .with_help("give each field of a record its own name")
}

/// `$t.z` on a record without a field `z`; `names` are its fields.
pub fn no_such_record_field(ty: &Type, field: &str, names: &[String], span: Span) -> Diagnostic {
    Diagnostic::error(format!("the record has no field named `{field}`"), span)
        .with_label(format!("this is a {}", ty.display()))
        .with_suggestion(field, names.iter().map(String::as_str))
}

/// `kstack(build_id)`, or a bare `kstack` under `stack_mode = build_id`.
pub fn build_id_kstack(span: Span) -> Diagnostic {
    Diagnostic::error("the build_id stack mode is only for ustack", span)
        .with_help("kstack takes the bpftrace, perf or raw mode")
}

pub fn container_of_not_a_pointer(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "container_of() takes a pointer to a field, but this is {}",
            ty.display()
        ),
        span,
    )
    .with_help("cast an address to the field's pointer type first, e.g. (struct list_head *)addr")
}

pub fn offsetof_needs_struct(span: Span) -> Diagnostic {
    Diagnostic::error("offsetof needs a struct type", span)
}

/// `record` is the C name (`struct file`); `fields` its field names.
pub fn no_such_field(record: &str, field: &str, fields: &[&str], span: Span) -> Diagnostic {
    Diagnostic::error(format!("{record} has no field `{field}`"), span)
        .with_suggestion(field, fields.iter().copied())
}

pub fn unknown_identifier(name: &str, candidates: &[String], span: Span) -> Diagnostic {
    Diagnostic::error(format!("unknown identifier `{name}`"), span)
        .with_label("not a builtin, constant or macro")
        .with_suggestion(name, candidates.iter().map(String::as_str))
}

pub fn cannot_dereference(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("cannot dereference a value of type {}", ty.display()),
        span,
    )
}

/// `*p` or `p[i]` of a function pointer (a BTF-typed argument such as `work_func_t`).
pub fn function_pointer_read(span: Span) -> Diagnostic {
    Diagnostic::error(
        "a function pointer points to code, not to a value to read",
        span,
    )
    .with_help("print the pointer itself, or its function's name with `ksym()`")
}

/// `T[]` outside a cast (`let $a: int8[]`, `sizeof(int8[])`): nothing gives its length.
pub fn array_length_needed(span: Span) -> Diagnostic {
    Diagnostic::error("this array type needs a length", span)
        .with_help("write it, e.g. `int8[8]`; only a cast (`(int8[])x`) takes it from its operand")
}

/// `(T[])x` where `x`'s size is not a whole number of `T`s (or `T` is not an integer).
pub fn array_cast_size(elem: &Type, from: &Type, size: u32, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "cannot cast {} to an array of {}: its {size} bytes are not a whole number of elements",
            from.display(),
            elem.display()
        ),
        span,
    )
    .with_help("give the array's length, or cast to an array of smaller integers such as `int8[]`")
}

/// `&` of something other than a variable (bpftrace 0.27 refuses it too).
pub fn address_of(span: Span) -> Diagnostic {
    Diagnostic::error(
        "the address-of operator (`&`) can only be used on a variable",
        span,
    )
    .with_help("assign the value to a variable, then take its address: `$v = ...; &$v`")
}

/// `&@map`: bpftrace 0.27 gives the kernel's map object, which scripts have no use for.
pub fn address_of_map(span: Span) -> Diagnostic {
    Diagnostic::error("taking the address of a map (`&@m`) is not supported", span)
        .with_help("copy the value to a variable and take its address: `$v = @m; &$v`")
}

/// A binary operator applied to a string. Strings compare with `==` and `!=` (two literals
/// also order with `<`, `>`, `<=` and `>=`), and have no arithmetic at all (as in bpftrace
/// 0.27, where only two literals join with `+`).
pub fn string_operands(op: BinaryOp, lhs: &Type, rhs: &Type, span: Span) -> Diagnostic {
    let help = match op {
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            "strings compare with == and != (only two literal strings also order, with <, >, <= and >=)"
        }
        BinaryOp::Add
        | BinaryOp::Sub
        | BinaryOp::Mul
        | BinaryOp::Div
        | BinaryOp::Mod
        | BinaryOp::BitAnd
        | BinaryOp::BitOr
        | BinaryOp::BitXor
        | BinaryOp::Shl
        | BinaryOp::Shr
        | BinaryOp::LogicalAnd
        | BinaryOp::LogicalOr => "arithmetic and logical operators take integers, not strings",
    };
    Diagnostic::error(
        format!(
            "`{}` cannot be applied to {} and {}",
            op.symbol(),
            lhs.display(),
            rhs.display()
        ),
        span,
    )
    .with_help(help)
}

/// A binary operator that pointers don't take: only `p + n`, `n + p`, `p - n` and
/// comparisons do (bpftrace 0.27 rejects `p - q` too, where C would count elements).
pub fn pointer_operands(op: BinaryOp, lhs: &Type, rhs: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "`{}` cannot be applied to {} and {}",
            op.symbol(),
            lhs.display(),
            rhs.display()
        ),
        span,
    )
    .with_help("a pointer can be compared, and moved by an integer with + and -")
    .with_note("cast a pointer to an integer type, e.g. `(uint64)p`, to do other arithmetic")
}

/// `#include` of a header that is neither a kernel header nor on this machine.
pub fn header_not_found(path: &str, system: bool, span: Span) -> Diagnostic {
    let (open, close) = if system { ('<', '>') } else { ('"', '"') };
    Diagnostic::error(format!("header {open}{path}{close} not found"), span)
        .with_label("included here")
        .with_help(if system {
            "system headers are searched in the -I directories, /usr/local/include and /usr/include; kernel headers (linux/, net/, …) are not needed, their types come from BTF"
        } else {
            "a quoted header is searched next to the script, then like a system header"
        })
}

/// `ppid(x)` and its family take a task: a `struct task_struct *` or an address.
pub fn not_a_task(name: &str, ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{name}() takes a task, but this is {}", ty.display()),
        span,
    )
    .with_help(format!(
        "pass a `struct task_struct *` such as curtask, or write {name} for the current task"
    ))
}

/// An operator on tuples or arrays other than `==`/`!=` between two of the same shape.
pub fn aggregate_operands(op: BinaryOp, lhs: &Type, rhs: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "`{}` cannot be applied to {} and {}",
            op.symbol(),
            lhs.display(),
            rhs.display()
        ),
        span,
    )
    .with_help(
        "tuples, records and arrays compare with == and != only, element by element, with \
         one of the same shape (a record: the same field names) whose elements are integers \
         or strings; buffers compare with == and != with buffers",
    )
}

/// Comparing pointers to different types, which C warns about too: the addresses compare
/// as numbers, but one of them is probably not the pointer that was meant.
pub fn distinct_pointer_comparison(
    lhs: (&Type, Span),
    rhs: (&Type, Span),
    span: Span,
) -> Diagnostic {
    Diagnostic::warning(
        format!(
            "comparison of distinct pointer types: {} and {}",
            lhs.0.display(),
            rhs.0.display()
        ),
        span,
    )
    .with_secondary(lhs.1, lhs.0.display())
    .with_secondary(rhs.1, rhs.0.display())
}

pub fn field_of_non_struct_pointer(field: &str, pointee: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "`{field}` needs a struct, but this points to {}",
            pointee.display()
        ),
        span,
    )
}

pub fn field_of_non_struct(field: &str, ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "cannot access field `{field}` of a value of type {}",
            ty.display()
        ),
        span,
    )
    .with_help("cast the value to a struct pointer first, e.g. ((struct sock *)arg0)->field")
}

pub fn record_without_layout(record: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("unknown {record}: no BTF or script definition describes it"),
        span,
    )
}

pub fn no_such_parameter(field: &str, params: &[&str], span: Span) -> Diagnostic {
    Diagnostic::error(format!("this function has no parameter `{field}`"), span)
        .with_label("unknown argument")
        .with_suggestion(field, params.iter().copied())
        .with_note(format!("its parameters are: {}", params.join(", ")))
}

/// `args.x` (`field`) or `args` where the kernel's BTF does not describe the arguments: a
/// kfunc/kretfunc probe on a function without a signature, or a raw tracepoint without one.
pub fn args_without_btf(provider: Provider, field: Option<&str>, span: Span) -> Diagnostic {
    let what = match field {
        Some(field) => format!("so it has no argument `{field}`"),
        None => "so `args` has no value".to_string(),
    };
    let d = Diagnostic::error(
        format!(
            "the arguments of this {} probe are unknown, {what}",
            provider.name()
        ),
        span,
    )
    .with_label("unknown argument");
    match provider {
        Provider::Rawtracepoint => d
            .with_note("the kernel's BTF has no type for this raw tracepoint")
            .with_help("read its arguments untyped, as arg0, arg1, …"),
        _ => d.with_note("the kernel's BTF has no signature for this function"),
    }
}

/// `args` or `args.x` in an fentry/fexit probe on a BPF program's function whose signature
/// the program's BTF does not give.
pub fn bpf_program_args(provider: Provider, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "the arguments of this BPF program's function are not available in {}:bpf probes",
            provider.name()
        ),
        span,
    )
    .with_label("not available here")
    .with_note("the traced program's BTF does not describe this function's parameters (or the program is gone)")
}

/// `retval` in an fexit probe on a BPF program's function.
pub fn bpf_program_retval(span: Span) -> Diagnostic {
    Diagnostic::error(
        "the return value of a BPF program's function cannot be read in fexit:bpf probes",
        span,
    )
    .with_label("not readable here")
    .with_note("the kernel may give the traced function more argument slots than its BTF lists (5 when it judges the BTF unreliable, as seen with rbt's own programs on Linux 6.1), and where the return value follows them is not visible from user space; `args` come first and read correctly")
}

/// `args.x` in a uprobe whose function's parameters are unknown (`reason`: no debug info).
pub fn uprobe_args_unknown(field: &str, reason: String, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("the arguments of this uprobe are unknown, so it has no argument `{field}`"),
        span,
    )
    .with_label("unknown argument")
    .with_note(reason)
    .with_help("build the program with -g, or point --debuginfo at its debug file; arg0..arg5 read the raw registers")
}

/// `args` in a uprobe whose functions (a wildcard's matches) have different parameters.
pub fn uprobe_args_differ(first: &str, other: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("the functions of this uprobe have different parameters ({first} and {other}), so args has no one type"),
        span,
    )
    .with_label("args of several functions")
    .with_help("give each function a probe of its own, or read arg0..arg5")
}

/// `args.x` of a uprobe where `x` is not in one integer argument register at the function's
/// entry: on the stack (after six register-sized parameters, or a large struct), in
/// floating-point registers, or split over two registers (a small struct, `__int128`).
pub fn uprobe_arg_not_in_register(field: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("rbt cannot read uprobe argument `{field}`"), span)
        .with_label("not in an argument register")
        .with_note("it is passed on the stack, in floating-point registers or in two registers; rbt reads only parameters passed whole in one of the six integer argument registers")
}

pub fn no_such_tracepoint_argument(
    tracepoint: &str,
    field: &str,
    fields: &[String],
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        format!("tracepoint {tracepoint} has no argument `{field}`"),
        span,
    )
    .with_label("unknown argument")
    .with_suggestion(field, fields.iter().map(String::as_str))
    .with_note(format!("its arguments are: {}", fields.join(", ")))
}

pub fn unknown_type(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("unknown type `{name}`"), span).with_suggestion(
        name,
        [
            "uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
        ],
    )
}

/// `full` is the C name, `struct foo`.
pub fn unknown_record(full: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("unknown {full}"), span).with_help(
        "rbt takes kernel types from BTF (/sys/kernel/btf/vmlinux) and script definitions",
    )
}

// ---------------------------------------------------------------------------------------
// The rules of the builtin table

pub fn unsafe_function(spec: &Spec, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{}() is an unsafe function", spec.name), span)
        .with_help("run with --unsafe to allow it")
}

/// A statement builtin used as a value.
pub fn statement_as_value(spec: &Spec, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{}() does not return a value", spec.name), span)
        .with_help("call it as a statement on its own")
}

/// An aggregation used as a value.
pub fn aggregation_as_value(spec: &Spec, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{}() must be assigned to a map", spec.name), span)
        .with_help(format!("e.g. {}", spec.usage))
}

/// A builtin standing where its kind may not (a value as a statement, …).
pub fn misplaced_call(spec: &Spec, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{}() cannot be used here", spec.name), span)
        .with_help(format!("use it as {}", spec.usage))
}

pub fn arity(spec: &Spec, arity: Arity, argc: usize, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "{}() takes {}, but {argc} {} given",
            spec.name,
            arity.describe(),
            if argc == 1 { "was" } else { "were" }
        ),
        span,
    )
    .with_help(format!("usage: {}", spec.usage))
}

/// A builtin used in a probe where its record says it is not valid; `name` is as the script
/// wrote it (`arg3`), a function's (`call`) or a builtin variable's.
pub fn not_valid_here(
    spec: &Spec,
    name: &str,
    call: bool,
    provider: Option<Provider>,
    span: Span,
) -> Diagnostic {
    let (what, shown) = if call {
        (format!("{name}()"), format!("{name}()"))
    } else {
        (format!("the {name} builtin"), name.to_string())
    };
    let message = match spec.valid {
        Valid::Anywhere | Valid::In(_) | Valid::Except(_) => format!(
            "{what} cannot be used in {} probes",
            provider.map_or("this", |p| p.name())
        ),
    };
    Diagnostic::error(message, span).with_help(spec.valid_help(&shown))
}

pub fn unknown_function(name: &str, candidates: &[&str], span: Span) -> Diagnostic {
    Diagnostic::error(format!("unknown function `{name}`"), span)
        .with_suggestion(name, candidates.iter().copied())
}

// ---------------------------------------------------------------------------------------
// Builtin variables and functions

pub fn retval_without_btf(span: Span) -> Diagnostic {
    Diagnostic::error(
        "no BTF signature for this function, so its return value is unknown",
        span,
    )
}

pub fn stack_too_deep(max: u32, asked: u64, span: Span) -> Diagnostic {
    Diagnostic::error(format!("a stack has at most {max} frames"), span)
        .with_label(format!("{asked} frames asked for"))
}

pub fn stack_argument(max: u32, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "stack arguments are a mode (bpftrace, perf, raw, build_id) and a limit (1..{max})"
        ),
        span,
    )
}

/// `func()` takes a string literal here; `what` says which (`address`, `symbol name`).
pub fn getopt_default(span: Span) -> Diagnostic {
    Diagnostic::error("getopt() needs a literal default value", span).with_help(
        "the default is an integer, `true`/`false` or a string literal, e.g. getopt(\"count\", 10)",
    )
}

pub fn getopt_default_differs(name: &str, previous: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("program option `{name}` needs the same default value wherever getopt() reads it"),
        span,
    )
    .with_label(format!(
        "an earlier getopt(\"{name}\", ...) has the default {previous}"
    ))
}

/// A value given on the command line (`-- --name=text`) that the option's type refuses;
/// `problem` says how.
pub fn getopt_bad_value(name: &str, problem: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("program command line option --{name} {problem}"),
        span,
    )
    .with_label("the option's type is its default's, here")
}

pub fn unexpected_program_options(
    unexpected: &[String],
    expected: &[String],
    span: Span,
) -> Diagnostic {
    let d = Diagnostic::error(
        format!(
            "unexpected program command line options: {}",
            unexpected.join(" ")
        ),
        span,
    )
    .with_label("the script's program options are read with getopt(), as here");
    if expected.is_empty() {
        d.with_help("the script reads no program options (getopt())")
    } else {
        d.with_help(format!("expected program options: {}", expected.join(" ")))
    }
}

pub fn literal_needed(func: &str, what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{func}() needs a literal {what}"), span)
}

pub fn str_argument(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "str() needs a pointer or integer address, but this is {}",
            ty.display()
        ),
        span,
    )
}

pub fn buf_needs_length(span: Span) -> Diagnostic {
    Diagnostic::error(
        "buf() needs a length for a pointer argument: buf(ptr, len)",
        span,
    )
}

pub fn strncmp_arguments(span: Span) -> Diagnostic {
    Diagnostic::error("strncmp() takes two strings and a constant length", span)
}

pub fn memcmp_argument(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "memcmp() compares values held in memory, but this is {}",
            ty.display()
        ),
        span,
    )
    .with_help("compare strings, arrays, tuples or records; integers compare with ==")
}

/// A string comparison, `strlen` or `strcontains` over strings so long that its byte-by-byte
/// code (`steps` bytes examined, more than `most`) would not pass the verifier or would take
/// minutes to compile.
pub fn string_operation_too_long(what: &str, steps: u64, most: u64, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{what} of strings this long is more than rbt can do"),
        span,
    )
    .with_label(format!("examines up to {steps} bytes"))
    .with_note(format!(
        "rbt compiles string operations into loops that the kernel's verifier follows one \
             step at a time, and takes at most {most} steps"
    ))
    .with_help("compare a prefix with strncmp(a, b, n), or set a smaller max_strlen")
}

pub fn ntop_argument(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "ntop() needs an integer or a 4/16-byte array, but this is {}",
            ty.display()
        ),
        span,
    )
}

pub fn not_an_ip_address(text: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("`{text}` is not an IPv4 or IPv6 address"), span)
}

/// `kptr(x)`/`uptr(x)` of what is not an address.
pub fn address_space_argument(func: &str, ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "{func}() marks an address, an integer or a pointer, but this is {}",
            ty.display()
        ),
        span,
    )
}

pub fn macaddr_argument(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "macaddr() needs a pointer, or an array or buffer of at least 6 bytes, but this is {}",
            ty.display()
        ),
        span,
    )
}

pub fn kernel_symbol_not_found(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("kernel symbol `{name}` not found"), span)
}

/// Load-only mode: a missing kernel symbol is compiled as address 0.
pub fn kernel_symbol_not_found_loaded_anyway(name: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(format!("kernel symbol `{name}` not found"), span)
        .with_label("address 0 is used, since the program is only loaded")
}

pub fn not_a_cgroup(path: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("`{path}` is not a cgroup (v2) directory"), span)
        .with_help("cgroup ids come from the cgroup2 mount, e.g. /sys/fs/cgroup/system.slice")
}

pub fn unknown_register(name: &str, registers: &[&str], span: Span) -> Diagnostic {
    Diagnostic::error(format!("unknown register `{name}`"), span)
        .with_suggestion(name, registers.iter().copied())
}

pub fn len_argument(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("len() takes a map or a stack, but this is {}", ty.display()),
        span,
    )
    .with_help(
        "pass a map (len(@m) counts its elements) or a stack (len(ustack) counts its frames)",
    )
}

pub fn has_key_needs_map(span: Span) -> Diagnostic {
    Diagnostic::error("has_key() needs a map as its first argument", span)
}

/// `has_key(@m, k)` or `find(@m, k, $v)` of a map assigned without keys (bpftrace 0.27
/// refuses it too).
pub fn lookup_in_scalar_map(map: &str, first: Span, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("map {map} has no keys, so it cannot be searched for one"),
        span,
    )
    .with_secondary(first, "assigned without a key here")
    .with_help(format!(
        "a map without keys holds one value: read {map} itself"
    ))
}

pub fn has_key_with_key(span: Span) -> Diagnostic {
    Diagnostic::error("pass the map without a key: has_key(@m, key)", span)
}

/// Why `uaddr()` could not place a symbol in a binary.
pub enum UaddrMiss {
    /// The binary has no such symbol; these are the names it has, for "did you mean".
    Unknown(Vec<String>),
    /// The binary could not be read; the catalog's words.
    Lookup(String),
    /// The probed code at this file offset is in none of the binary's loadable segments.
    OutsideSegments(u64),
}

/// `uaddr("name")` could not be placed in `path`; in load-only mode (`warn`) the program is
/// compiled with address 0.
pub fn uaddr_miss(name: &str, path: &str, miss: UaddrMiss, warn: bool, span: Span) -> Diagnostic {
    let message = match &miss {
        UaddrMiss::Unknown(_) => format!("symbol `{name}` not found in {path}"),
        UaddrMiss::Lookup(e) => e.clone(),
        UaddrMiss::OutsideSegments(offset) => format!(
            "the probed code at file offset {offset:#x} of {path} is in no loadable segment"
        ),
    };
    if warn {
        return Diagnostic::warning(message, span)
            .with_label("address 0 is used, since the program is only loaded");
    }
    match miss {
        UaddrMiss::Unknown(names) => Diagnostic::error(message, span)
            .with_label("unknown symbol")
            .with_suggestion(name, names.iter().map(String::as_str)),
        UaddrMiss::Lookup(_) | UaddrMiss::OutsideSegments(_) => Diagnostic::error(message, span),
    }
}

/// `relocatable_path` names the position-independent binary that made the addresses differ.
pub fn uaddr_differs(name: &str, relocatable_path: Option<&str>, span: Span) -> Diagnostic {
    let d = Diagnostic::error(
        format!("uaddr(\"{name}\") differs between the attach points of this probe"),
        span,
    )
    .with_help("give uaddr() a probe with a single attach point (no wildcard)");
    match relocatable_path {
        Some(path) => d.with_note(format!(
            "{path} is position-independent: the symbol's address is found from where the probed instruction is mapped, which is different for each attach point"
        )),
        None => d,
    }
}

// ---------------------------------------------------------------------------------------
// Statement builtins and aggregations

pub fn print_arguments_not_constant(span: Span) -> Diagnostic {
    Diagnostic::error(
        "print()'s top and divisor must be non-negative constants",
        span,
    )
}

pub fn print_value_arguments(span: Span) -> Diagnostic {
    Diagnostic::error("print() of a value takes one argument", span)
}

/// `clear`, `zero`: the argument is not a map.
pub fn takes_a_map(func: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{func}() takes a map, e.g. {func}(@x)"), span)
}

pub fn takes_the_whole_map(func: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{func}() takes the whole map, without a key"), span)
}

pub fn delete_needs_element(span: Span) -> Diagnostic {
    Diagnostic::error("delete() takes a map element, e.g. delete(@x[key])", span)
}

/// `enum { A = f() }`: an enumerator's value is known when the script is compiled.
pub fn enum_value_not_constant(span: Span) -> Diagnostic {
    Diagnostic::error("an enumerator's value must be a constant integer", span)
        .with_label("not a constant")
        .with_help("write an integer, an earlier enumerator, a #define, or arithmetic on them")
}

/// `(enum Foo)5` where no enumerator of `Foo` is 5.
pub fn enum_has_no_value(name: &str, value: i64, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("enum {name} has no enumerator with value {value}"),
        span,
    )
}

/// `delete(@m[k], k2)`: the two-argument form takes the map without a key.
pub fn delete_key_twice(span: Span) -> Diagnostic {
    Diagnostic::error(
        "with a key argument, delete() takes the map without a key: delete(@m, key)",
        span,
    )
}

/// `delete(@m)` of a map that has keys.
pub fn delete_needs_key(map: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("delete() of map {map} needs a key"), span).with_help(format!(
        "delete one element: delete({map}[key]), or all with clear({map})"
    ))
}

pub fn join_arguments(span: Span) -> Diagnostic {
    Diagnostic::error(
        "join() takes an array of strings and an optional literal separator",
        span,
    )
}

pub fn join_argument(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "join() needs a pointer to an array of strings (char **), but this is {}",
            ty.display()
        ),
        span,
    )
}

pub fn debugf_integers_only(span: Span) -> Diagnostic {
    Diagnostic::error(
        "debugf() formats integers and strings only (%d %u %x %p %s)",
        span,
    )
}

pub fn float_member(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "a {} member has no value rbt can compute with",
            ty.display()
        ),
        span,
    )
    .with_help("print the whole record instead: its floating-point members print as null")
}

pub fn duplicate_run_name(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(format!("there is already a probe named {name}"), span)
        .with_secondary(first, "first named here")
        .with_help("give each bench: and test: probe a name of its own")
}

pub fn write_user_destination(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "write_user() writes to a user address, not {}",
            ty.display()
        ),
        span,
    )
    .with_help("pass a pointer or an integer address: write_user(args.buf, \"x\", 1)")
}

pub fn write_user_source(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "write_user() copies a string, array or record, not {}",
            ty.display()
        ),
        span,
    )
    .with_help("the bytes to write must be held by the program: write_user(args.buf, \"x\", 1)")
}

pub fn write_user_length(span: Span) -> Diagnostic {
    Diagnostic::error("write_user()'s length must be a positive constant", span)
        .with_help("the verifier needs a length it can bound: write_user(args.buf, \"x\", 1)")
}

pub fn unknown_signal(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("unknown signal `{name}`"), span)
}

pub fn signal_argument(span: Span) -> Diagnostic {
    Diagnostic::error("signal() takes a signal name (\"SIGKILL\") or number", span)
}

pub fn aggregation_bounds_not_constant(func: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{func}() needs constant bounds"), span)
}

pub fn hist_bits(span: Span) -> Diagnostic {
    Diagnostic::error("hist()'s second argument must be 0 to 5", span)
}

pub fn lhist_bounds(span: Span) -> Diagnostic {
    Diagnostic::error("lhist() needs min < max and a positive step", span)
}

pub fn lhist_step_too_large(step: i64, range: i64, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("lhist() step {step} is larger than its range {range} (max - min)"),
        span,
    )
    .with_help("a step of at most max - min gives the histogram at least one bucket")
}

pub fn lhist_too_many_buckets(span: Span) -> Diagnostic {
    Diagnostic::error("lhist() would have more than 1000 buckets", span)
}

pub fn tseries_interval(value: i64, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("tseries()'s interval must be at least 1 ns ({value} given)"),
        span,
    )
    .with_help("give a duration such as 100ms or 1s, or a number of nanoseconds")
}

pub fn tseries_intervals(value: i64, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("tseries() keeps 1 to 100000 intervals ({value} given)"),
        span,
    )
}

pub fn tseries_clock_map(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("BPFTRACE_DUMMY_TS_MAP names {name}, which is not a scalar map of integers"),
        span,
    )
    .with_help(format!(
        "assign it a time in nanoseconds, e.g. {name} = (uint64)0"
    ))
}

/// The note (a line on stderr, no excerpt, as bpftrace's warning) of a script that uses an
/// unstable feature (`tseries()`) whose setting (`unstable_tseries`) is `warn`.
pub fn unstable_note(feature: &str, setting: &str) -> String {
    format!(
        "this script uses an unstable feature, {feature}; set {setting} = enable in the \
         config block to silence this note"
    )
}

/// An unstable feature whose setting is `error` (the default of `unstable_typeinfo`).
pub fn unstable_not_enabled(feature: &str, setting: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{feature} is an unstable feature, not enabled"),
        span,
    )
    .with_help(format!(
        "set `{setting} = enable` in the config block to use it"
    ))
}

/// `len(dw_ustack)`: its frames are only known once user space has unwound the copy.
pub fn len_dw_ustack(span: Span) -> Diagnostic {
    Diagnostic::error("len() cannot count the frames of a dw_ustack", span).with_note(
        "a dw_ustack is unwound in user space after the probe has run, so the program cannot \
         know its frames",
    )
}

pub fn tseries_reduce(span: Span) -> Diagnostic {
    Diagnostic::error(
        "tseries()'s fourth argument names how an interval's values combine",
        span,
    )
    .with_help(
        "one of \"avg\", \"max\", \"min\" or \"sum\"; without it an interval keeps its last value",
    )
}

pub fn format_missing(func: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("{func}() needs a format string"), span)
}

pub fn format_not_literal(func: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{func}()'s first argument must be a literal format string"),
        span,
    )
}

/// The format parser's own message, at the specifier it stopped on.
pub fn format_invalid(message: String, span: Span) -> Diagnostic {
    Diagnostic::error(message, span).with_help(
        "supported: %d %i %u %x %X %o %c %s %p %r %rx %rh %gr, with flags, width and precision",
    )
}

pub fn format_argument_count(want: usize, given: usize, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "the format string has {want} specifier{}, but {given} argument{} given",
            if want == 1 { "" } else { "s" },
            if given == 1 { " was" } else { "s were" }
        ),
        span,
    )
}

/// `conv` is the conversion as written (`d`, `x`).
pub fn format_wants_integer(conv: &str, ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("%{conv} expects an integer, but this is {}", ty.display()),
        span,
    )
    .with_help("use %s to print strings and other values")
}

pub fn format_wants_buffer(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "%r expects a buffer (from buf()), but this is {}",
            ty.display()
        ),
        span,
    )
}

/// A statement whose values don't fit in a probe's scratch memory: `statement` bytes for its
/// own values, `rest` for the probe's variables, predicate and loop bodies.
pub fn statement_too_big(statement: u64, rest: u64, span: Span) -> Diagnostic {
    use super::scratch::{SCRATCH_MAX, SCRATCH_MIN};
    let mut note = format!(
        "strings, tuples, buffers and other values of {SCRATCH_MIN} bytes or more live in \
         at most {SCRATCH_MAX} bytes of per-CPU memory per probe; this statement's values take about \
         {statement} bytes"
    );
    if rest > 0 {
        note.push_str(&format!(
            ", and the probe's variables, predicate and loop bodies {rest} more"
        ));
    }
    Diagnostic::error(
        "this statement's values need more memory than a probe has",
        span,
    )
    .with_label(format!("about {} bytes", statement + rest))
    .with_note(note)
    .with_help("split it into several statements, or use shorter strings")
}

/// A string literal that doesn't fit, with its NUL, in bpftrace's 1024-byte limit.
pub fn string_literal_too_long(span: Span) -> Diagnostic {
    Diagnostic::error("string is too long (over 1024 bytes)", span)
}

/// A block expression the macro expansion in `lang::parse` did not lower (it lowers every one it
/// finds, so a script that reaches this has a block where the expansion does not look).
pub fn block_expression_here(span: Span) -> Diagnostic {
    Diagnostic::error("a block expression can't be used here", span)
}

/// `(void)x` or `let $v: void`.
pub fn void_value(span: Span) -> Diagnostic {
    Diagnostic::error("`void` has no values", span)
        .with_label("a value can't be of type void")
        .with_help("`void *` is a pointer to anything; for a byte, use `uint8`")
}

/// An array type of `len` elements of `elem` written in the script, bigger than `max` bytes.
pub fn array_too_large(len: u64, elem: &Type, max: u32, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("an array of {len} {} is too large", elem.display()),
        span,
    )
    .with_label("too large")
    .with_note(format!("an array type holds at most {max} bytes"))
}

/// `typeof(...)` as the argument of a call that is not a macro taking a type there.
pub fn type_as_value(span: Span) -> Diagnostic {
    Diagnostic::error("a type can't be used as a value", span)
        .with_label("this is a type")
        .with_help(
            "a type can be passed only to a macro whose body uses the parameter as a type, \
             e.g. `macro size(T) { sizeof(T) }` called as `size(typeof(uint16))`",
        )
}

// ---------------------------------------------------------------------------------------
// Builtins of bpftrace 0.2x

/// `pid(foo)`/`tid(foo)`: `name` is the builtin.
pub fn unknown_pid_namespace(name: &str, mode: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("invalid pid namespace mode `{mode}`"), span)
        .with_suggestion(mode, ["curr_ns", "init"])
        .with_help(format!("{name}() takes curr_ns or init"))
}

pub fn pid_namespace_not_a_name(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{name}() takes curr_ns or init as its argument"),
        span,
    )
    .with_help(format!("usage: {name}(curr_ns) or {name}(init)"))
}

/// `nsecs(foo)`; `clocks` are the names it takes.
pub fn unknown_clock(clock: &str, clocks: &[&str], span: Span) -> Diagnostic {
    let takes = match clocks.split_last() {
        Some((last, rest)) => format!("nsecs() takes {} or {last}", rest.join(", ")),
        None => "nsecs() takes no clock".to_string(),
    };
    Diagnostic::error(format!("invalid timestamp mode `{clock}`"), span)
        .with_suggestion(clock, clocks.iter().copied())
        .with_help(takes)
}

/// `ppid`, `pcomm`, `leader_tid`, `leader_comm` read `struct task_struct` through BTF.
pub fn task_builtin_without_btf(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{name} needs the kernel's BTF for struct task_struct"),
        span,
    )
}

/// `percpu_kaddr("name")` of a variable the kernel's BTF does not describe.
pub fn kernel_variable_not_found(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("could not resolve variable `{name}` from BTF"),
        span,
    )
    .with_help("percpu_kaddr() takes the name of a per-CPU kernel variable, e.g. percpu_kaddr(\"runqueues\")")
}

/// `percpu_kaddr(name, cpu)` with a cpu that is not an integer.
pub fn percpu_kaddr_cpu_not_integer(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "percpu_kaddr() takes an integer cpu, but this is {}",
            ty.display()
        ),
        span,
    )
}

/// `socket_cookie()` of something that is not a `struct sock *`.
pub fn socket_cookie_not_a_socket(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("socket_cookie() takes a struct sock *, but this is {}", ty.display()),
        span,
    )
    .with_help("pass a function argument of that type, e.g. socket_cookie(args.sk) in fentry:tcp_v4_connect")
}

/// A call that needs a tracing program (`socket_cookie()`, `skboutput()`, `comm(pid)`) in a
/// raw tracepoint whose event the kernel's BTF does not describe, which loads as a plain raw
/// tracepoint program.
pub fn untyped_raw_tracepoint(call: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{call} needs a raw tracepoint whose arguments the kernel's BTF types"),
        span,
    )
    .with_note("the kernel's BTF does not describe this event, so it loads as a plain raw tracepoint program, which may not call the helper or kfunc it needs")
    .with_help("use it in an fentry or fexit probe, or in a raw tracepoint that `rbt -lv 'rawtracepoint:EVENT'` lists with its arguments")
}

/// `skboutput()` given something that is not a `struct sk_buff *`.
/// `path()` of something that is not a kernel `struct path`.
pub fn path_argument(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("path() takes a kernel struct path, but this is {}", ty.display()),
        span,
    )
    .with_help("pass a struct path *, or a struct path field of a kernel object, e.g. path(args.file->f_path) in fentry:security_file_open")
}

/// `path()`'s size is not a positive constant.
pub fn path_size_not_constant(span: Span) -> Diagnostic {
    Diagnostic::error("path()'s size must be a positive integer constant", span)
        .with_help("the string's size is fixed when the script is compiled, e.g. path(p, 128)")
}

pub fn skboutput_not_a_packet(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("skboutput() takes a struct sk_buff *, but this is {}", ty.display()),
        span,
    )
    .with_help("pass a packet argument, e.g. skboutput(\"out.pcap\", args.skb, args.skb->len, 0) in fentry:napi_gro_receive")
}

/// `skboutput()`'s length is not an integer.
pub fn skboutput_length_not_integer(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "skboutput() takes an integer length, but this is {}",
            ty.display()
        ),
        span,
    )
    .with_label("how many bytes of the packet to capture")
}

/// `skboutput()`'s offset is not a constant that is not negative.
pub fn skboutput_offset_not_constant(span: Span) -> Diagnostic {
    Diagnostic::error("skboutput() takes a constant offset", span)
        .with_label("expected a number of bytes, 0 or more")
        .with_help("the offset skips bytes at the start of each captured packet, e.g. 14 for an Ethernet header")
}

/// `comm(pid)` with a pid that is not an integer.
pub fn comm_pid_not_integer(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("comm() takes an integer pid, but this is {}", ty.display()),
        span,
    )
    .with_help("comm(pid) names the process with that pid; comm alone names the current one")
}

/// `comm(pid)` in a probe whose programs may not call the `bpf_task_from_pid` kfunc.
/// `allowed`: the kinds whose programs the kernel lets call it.
pub fn comm_pid_not_here(
    provider: Option<Provider>,
    allowed: &[Provider],
    span: Span,
) -> Diagnostic {
    let kinds: Vec<&str> = allowed.iter().map(|p| p.name()).collect();
    let typed = allowed
        .iter()
        .any(|p| p.kind().program == stdlib::probes::ProgramType::Tracing);
    let help = match (kinds.is_empty(), typed) {
        (true, _) => "this kernel lets no probe call it (the kfunc came in Linux 6.2)".to_string(),
        (false, false) => format!("use it in {} probes", kinds.join(", ")),
        (false, true) => format!(
            "use it in {} probes, or in rawtracepoint probes on events the kernel's BTF describes",
            kinds.join(", ")
        ),
    };
    Diagnostic::error(
        format!(
            "comm(pid) is not supported in {} probes",
            provider.map_or("these", |p| p.name())
        ),
        span,
    )
    .with_note("it looks the process up with the bpf_task_from_pid kfunc, which the kernel offers only to some program types")
    .with_help(help)
}

/// `strlen`/`str_concat` (`function`) given something that is not a string.
pub fn string_function_argument(function: &str, ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("{function}() takes strings, but this is {}", ty.display()),
        span,
    )
    .with_help("read a string from a pointer first: str(ptr)")
}

pub fn is_err_argument(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "is_err() takes a pointer or an integer, but this is {}",
            ty.display()
        ),
        span,
    )
}

pub fn find_without_variable(span: Span) -> Diagnostic {
    Diagnostic::error(
        "find() stores the value in a variable: find(@m, key, $v)",
        span,
    )
}

pub fn find_in_aggregation(agg: Aggregation, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("find() cannot take the value of {} map", agg_article(agg)),
        span,
    )
    .with_help("it holds no one number: print it with print()")
}

pub fn find_variable_mismatch(name: &str, have: &Type, value: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "variable {name} holds {}, but the map's values are {}",
            have.display(),
            value.display()
        ),
        span,
    )
}

/// `fail(...)`, or a false `static_assert`: the script's own message.
pub fn fail(message: &str, span: Span) -> Diagnostic {
    Diagnostic::error(message.to_string(), span)
}

pub fn fail_argument_not_literal(span: Span) -> Diagnostic {
    Diagnostic::error(
        "fail()'s arguments must be literals: it fails when the script is compiled",
        span,
    )
}

pub fn assert_condition(ty: &Type, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!(
            "assert()'s condition must be a boolean or an integer, but this is {}",
            ty.display()
        ),
        span,
    )
}

/// `static_assert` with a message that is not a literal: it is reported when the script is
/// compiled, before anything runs.
pub fn static_assert_message_not_literal(span: Span) -> Diagnostic {
    Diagnostic::error("static_assert()'s message must be a literal string", span)
        .with_help("`assert(condition, value)` checks at run time and prints any value")
}

pub fn static_assert_not_constant(span: Span) -> Diagnostic {
    Diagnostic::error(
        "static_assert()'s condition must be known when the script is compiled",
        span,
    )
    .with_help("use assert() for a condition checked when the probe fires")
}

/// `comptime e` whose value is only known when the probe fires.
pub fn comptime_not_constant(span: Span) -> Diagnostic {
    Diagnostic::error("this value is not known when the script is compiled", span)
        .with_label("`comptime` needs a value the compiler can work out")
        .with_help(
            "literals, sizeof(), offsetof(), typeinfo(), is_str() and the like, probetype and \
             comparisons of them are known; a variable, a map or a builtin such as pid is not",
        )
}

/// `argN` in a usdt probe whose locations have fewer arguments (read from its ELF note).
pub fn usdt_argument_missing(n: u8, count: usize, span: Span) -> Diagnostic {
    let have = match count {
        0 => "no arguments".to_string(),
        1 => "1 argument (arg0)".to_string(),
        c => format!("{c} arguments (arg0 to arg{})", c - 1),
    };
    Diagnostic::error(
        format!("this usdt probe has {have}, so arg{n} does not exist"),
        span,
    )
}
