//! Attach points: interpreting each provider's fields (names, offsets, units, counts),
//! expanding `$N` and wildcards through the catalog, and producing the manifest's `Attach`.
//! What a probe kind is (its context, address space, section, listing) is data in
//! `stdlib::probes`; this file holds only the parsing each kind needs, one match arm per
//! provider.

use super::diagnostics;
use super::Checker;
use crate::ast::{AttachPoint, Provider, Span};
use crate::config::MissingProbes;
use stdlib::catalog::{Catalog, SymbolNames, Untraceable};
use stdlib::manifest::{Attach, KprobeTarget, PerfPeriod, SyscallTarget, UprobeTarget, UsdtTarget};
use stdlib::probes::{HARDWARE_EVENTS, SOFTWARE_EVENTS};

/// How a uprobe attach point is written, for the error of a malformed one.
const UPROBE_FORM: &str = "uprobe:/path/to/binary:[cpp:]function";

/// A resolved attach point.
pub struct Resolved {
    pub attach: Attach,
    /// Expanded probe names (`tracepoint:syscalls:sys_enter_openat`), for `probe` and `-l`.
    pub names: Vec<String>,
    /// For tracepoints: the (category, event) whose format gives `args`.
    pub tracepoint: Option<(String, String)>,
}

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

/// The span of an attach point's last field, which holds a kprobe's or uprobe's
/// `function+offset` and a software or hardware event's count.
fn last_field_span(ap: &AttachPoint) -> Span {
    ap.fields.last().map_or(ap.span, |f| f.span)
}

/// How a probe's name ends for an offset into its function: `+4` (in decimal, however it
/// was written), nothing for 0, as bpftrace 0.27 names the probe (`probe`, `-l`).
fn offset_suffix(offset: u64) -> String {
    if offset == 0 {
        String::new()
    } else {
        format!("+{offset}")
    }
}

impl Checker<'_> {
    /// Splits `function+offset` into the function and its offset (0 without `+`). Every
    /// provider that takes an offset parses it here, so a malformed one is an error on the
    /// field that holds it rather than a silent 0 later.
    fn split_offset<'f>(&mut self, ap: &AttachPoint, func: &'f str) -> Option<(&'f str, u64)> {
        let Some((name, off)) = func.split_once('+') else {
            return Some((func, 0));
        };
        match parse_int(off) {
            Some(offset) => Some((name, offset)),
            None => {
                self.push(diagnostics::invalid_offset(
                    ap.provider,
                    off,
                    last_field_span(ap),
                ));
                None
            }
        }
    }

    /// Substitutes positional parameters (`$1`) inside an attach point field; `None`, with
    /// an error, when the run does not give one of them.
    fn expand_params(&mut self, text: &str, ap: &AttachPoint) -> Option<String> {
        let mut out = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            if c == '$' {
                let mut digits = String::new();
                while let Some((_, d)) = chars.peek().copied() {
                    if d.is_ascii_digit() {
                        digits.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if digits.is_empty() || digits.bytes().all(|d| d == b'0') {
                    out.push('$');
                    out.push_str(&digits);
                    continue;
                }
                let given = digits
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| self.opts.params.get(n - 1));
                match given {
                    Some(p) => {
                        self.params_compiled_in = true;
                        out.push_str(p);
                    }
                    None => {
                        self.push(diagnostics::positional_not_set(&digits, ap.span));
                        return None;
                    }
                }
            } else {
                out.push(c);
            }
        }
        Some(out)
    }

    /// In load-only mode an attach point this system lacks is compiled anyway, with a warning.
    fn load_only_warning(&mut self, ap: &AttachPoint, what: &str, catalog: &dyn Catalog) {
        let fields: Vec<String> = ap.fields.iter().map(|f| f.text.clone()).collect();
        let cands = catalog.suggestions(ap.provider.name(), &fields);
        let last = fields.last().map_or("", String::as_str);
        let d = diagnostics::matches_nothing_loaded_anyway(what, last, &cands, ap.span);
        self.push(d);
    }

    pub(super) fn resolve_attach(
        &mut self,
        ap: &AttachPoint,
        catalog: &dyn Catalog,
    ) -> Option<Resolved> {
        let fields: Vec<String> = ap.fields.iter().map(|f| f.text.clone()).collect();
        let fields = fields
            .iter()
            .map(|f| self.expand_params(f, ap))
            .collect::<Option<Vec<String>>>()?;
        let provider = ap.provider.name();
        let arity_error = |this: &mut Self, expected: &str| {
            this.push(diagnostics::malformed_attach_point(
                ap.provider,
                expected,
                ap.span,
            ));
            None
        };
        let none_matched = |this: &mut Self, what: String| {
            this.dropped_attach_points = true;
            let cands = catalog.suggestions(provider, &fields);
            let last = fields.last().map_or("", String::as_str);
            match this.opts.config.missing_probes {
                MissingProbes::Error => {
                    this.push(diagnostics::no_probe_matched(&what, last, &cands, ap.span))
                }
                MissingProbes::Warn => {
                    this.push(diagnostics::missing_probe_skipped(&what, ap.span))
                }
                MissingProbes::Ignore => {}
            }
            None
        };
        match ap.provider {
            Provider::Begin | Provider::End => {
                if !fields.is_empty() {
                    return arity_error(self, "no fields after BEGIN/END");
                }
                // bpftrace 0.27 names them in lower case whichever spelling the script used.
                let (attach, name) = if ap.provider == Provider::Begin {
                    (Attach::Begin, "begin")
                } else {
                    (Attach::End, "end")
                };
                Some(Resolved {
                    attach,
                    names: vec![name.to_string()],
                    tracepoint: None,
                })
            }
            Provider::Bench | Provider::Test => {
                let [name] = fields.as_slice() else {
                    return arity_error(self, "one name: bench:name or test:name");
                };
                let bench = ap.provider == Provider::Bench;
                let kind = if bench { "bench" } else { "test" };
                let full = format!("{kind}:{name}");
                // Attach points may be resolved more than once; only another one clashes.
                if let Some(first) = self.run_names.get(&full).filter(|s| **s != ap.span) {
                    self.push(diagnostics::duplicate_run_name(&full, ap.span, *first));
                    return None;
                }
                self.run_names.insert(full.clone(), ap.span);
                let name = name.clone();
                let attach = if bench {
                    Attach::Bench { name }
                } else {
                    Attach::Test { name }
                };
                Some(Resolved {
                    attach,
                    names: vec![full],
                    tracepoint: None,
                })
            }
            Provider::SelfProbe => {
                let [trigger, signal] = fields.as_slice() else {
                    return arity_error(self, "self:signal:SIGUSR1");
                };
                if trigger != "signal" {
                    self.push(diagnostics::unsupported_self_trigger(trigger, ap.span));
                    return None;
                }
                // SIGUSR1 is the one signal bpftrace lets a script handle: the others end
                // the run or are the user's to send for other reasons.
                if signal != "SIGUSR1" {
                    self.push(diagnostics::unsupported_self_signal(signal, ap.span));
                    return None;
                }
                Some(Resolved {
                    attach: Attach::Signal {
                        signal: libc_sigusr1(),
                    },
                    names: vec![format!("self:signal:{signal}")],
                    tracepoint: None,
                })
            }
            Provider::Tracepoint => {
                let [cat, event] = fields.as_slice() else {
                    return arity_error(self, "tracepoint:category:event");
                };
                let targets = catalog.tracepoints(cat, event);
                if targets.is_empty() {
                    return none_matched(self, format!("tracepoint:{cat}:{event}"));
                }
                let names = targets
                    .iter()
                    .map(|(c, e)| format!("tracepoint:{c}:{e}"))
                    .collect();
                let first = targets.first().cloned();
                Some(Resolved {
                    attach: Attach::Tracepoint { targets },
                    names,
                    tracepoint: first,
                })
            }
            Provider::Rawtracepoint => {
                let name = match fields.as_slice() {
                    [name] => name,
                    // The raw tracepoints rbt knows are the kernel's own (vmlinux BTF), so a
                    // module field must name vmlinux.
                    [module, name] if glob_matches(module, "vmlinux") => name,
                    [module, name] => {
                        return none_matched(self, format!("rawtracepoint:{module}:{name}"))
                    }
                    _ => return arity_error(self, "rawtracepoint:event"),
                };
                let targets = catalog.raw_tracepoints(name);
                if targets.is_empty() {
                    return none_matched(self, format!("rawtracepoint:{name}"));
                }
                let names = targets
                    .iter()
                    .map(|t| format!("rawtracepoint:{t}"))
                    .collect();
                // Whether each target is BTF-typed is decided when the probe is split into
                // programs (`Checker::probe`), which looks their parameters up.
                Some(Resolved {
                    attach: Attach::Rawtracepoint {
                        targets,
                        btf: false,
                    },
                    names,
                    tracepoint: None,
                })
            }
            Provider::Kprobe | Provider::Kretprobe => {
                let ret = ap.provider == Provider::Kretprobe;
                let (module, func) = match fields.as_slice() {
                    [f] => (None, f.as_str()),
                    [m, f] => (Some(m.as_str()), f.as_str()),
                    _ => return arity_error(self, "kprobe:function or kprobe:module:function"),
                };
                if ret && func.contains('+') {
                    self.push(diagnostics::return_probe_offset(
                        ap.provider,
                        last_field_span(ap),
                    ));
                    return None;
                }
                let (func, offset) = self.split_offset(ap, func)?;
                // A function the kernel has but a --traceable-functions file leaves out is
                // refused, or with --unsafe attached with a warning; one that only the
                // kernel's own list leaves out is attached with a warning (`Untraceable`).
                // bpftrace decides this before anything else about the probe, so a kernel
                // without kprobes says so after it.
                let untraceable = (!has_wildcard(func))
                    .then(|| catalog.kernel_function_untraceable(module, func))
                    .flatten();
                match untraceable {
                    Some(_) if self.opts.allow_unsafe => self.push(
                        diagnostics::kprobe_not_traceable_unsafe(ap.provider, func, ap.span),
                    ),
                    Some(Untraceable::GivenList) => {
                        self.push(diagnostics::kprobe_not_traceable(
                            ap.provider,
                            func,
                            ap.span,
                        ));
                        return None;
                    }
                    Some(Untraceable::KernelList) => self.push(
                        diagnostics::kprobe_not_in_kernel_list(ap.provider, func, ap.span),
                    ),
                    None => {}
                }
                if !catalog.kprobes_supported() && !self.opts.load_only {
                    // Without kprobes every kprobe attach point is missing, and
                    // `missing_probes` says what a missing one is, as in bpftrace.
                    match self.opts.config.missing_probes {
                        MissingProbes::Error => {
                            let tracepoint = !catalog.tracepoints("*", func).is_empty();
                            self.push(diagnostics::kprobes_unavailable(
                                ap.provider,
                                func,
                                tracepoint,
                                ap.span,
                            ));
                        }
                        MissingProbes::Warn => self.push(
                            diagnostics::kprobe_skipped_without_kprobes(ap.provider, func, ap.span),
                        ),
                        MissingProbes::Ignore => {}
                    }
                    self.dropped_attach_points = true;
                    return None;
                }
                let mut syms = catalog.kernel_functions(module, func);
                if syms.is_empty() && untraceable.is_some() {
                    syms.push(func.to_string());
                }
                if syms.is_empty() {
                    if !self.opts.load_only {
                        return none_matched(self, format!("{provider}:{func}"));
                    }
                    self.load_only_warning(ap, &format!("{provider}:{func}"), catalog);
                    syms.push(
                        func.trim_end_matches(['*', '?'])
                            .trim_end_matches('.')
                            .to_string(),
                    );
                }
                for s in &syms {
                    if !has_wildcard(func) && s != func {
                        self.notes
                            .push(diagnostics::renamed_symbol_note(ap.provider, func, s));
                    }
                }
                let names = syms
                    .iter()
                    .map(|s| format!("{provider}:{s}{}", offset_suffix(offset)))
                    .collect();
                let targets: Vec<KprobeTarget> = syms
                    .into_iter()
                    .map(|symbol| KprobeTarget {
                        symbol,
                        offset,
                        cookie: 0,
                    })
                    .collect();
                // A wildcard with several matches attaches through one kprobe_multi link where
                // the kernel has them (offsets need one kprobe per target).
                let multi = targets.len() > 1 && offset == 0 && catalog.kprobe_multi_supported();
                Some(Resolved {
                    attach: Attach::Kprobe {
                        targets,
                        ret,
                        multi,
                    },
                    names,
                    tracepoint: None,
                })
            }
            Provider::Uprobe | Provider::Uretprobe => {
                let ret = ap.provider == Provider::Uretprobe;
                // `uprobe:/bin/x:cpp:ns::f`: the function by its C++ name, whose `::` the
                // attach point's fields split.
                let (path, func, names) = match fields.as_slice() {
                    [p, f] => (p, f.clone(), SymbolNames::Plain),
                    [p, lang, f @ ..] if !f.is_empty() => match SymbolNames::from_language(lang) {
                        Some(names) => (p, f.join(":"), names),
                        None if f.len() == 1 => {
                            let d = diagnostics::unknown_uprobe_language(
                                ap.provider,
                                lang,
                                ap.field_span(1),
                            );
                            self.push(d);
                            return None;
                        }
                        None => return arity_error(self, UPROBE_FORM),
                    },
                    _ => return arity_error(self, UPROBE_FORM),
                };
                let lang = names.prefix();
                // `uprobe:/bin/x@file.c:LINE`: a source location, found in the line table.
                let source = path
                    .rsplit_once('@')
                    .zip(func.parse::<u64>().ok())
                    .filter(|_| fields.len() == 2);
                let mut written_offset = 0;
                let found = match source {
                    Some(((bin, file), line)) => catalog.source_line_targets(bin, file, line),
                    None => {
                        let (symbol, offset) = self.split_offset(ap, &func)?;
                        written_offset = offset;
                        let unsafe_ok = self.opts.allow_unsafe;
                        catalog.uprobe_targets(path, symbol, names, offset, unsafe_ok)
                    }
                };
                let found = match found {
                    Ok(t) if t.is_empty() && self.opts.load_only => Err(String::new()),
                    other => other,
                };
                let found = match found {
                    Err(_) if self.opts.load_only => {
                        self.load_only_warning(ap, &format!("{provider}:{path}:{func}"), catalog);
                        Ok(vec![UprobeTarget {
                            path: path.clone(),
                            symbol: func.clone(),
                            offset: 0,
                            cookie: 0,
                        }])
                    }
                    other => other,
                };
                match found {
                    Ok(targets) if !targets.is_empty() => {
                        let suffix = offset_suffix(written_offset);
                        let names = targets
                            .iter()
                            .map(|t| format!("{provider}:{}:{lang}{}{suffix}", t.path, t.symbol))
                            .collect();
                        // Several targets attach through uprobe_multi links where the
                        // kernel has them: one link per binary instead of a uprobe each.
                        let multi = targets.len() > 1 && catalog.uprobe_multi_supported();
                        Some(Resolved {
                            attach: Attach::Uprobe {
                                targets,
                                ret,
                                multi,
                            },
                            names,
                            tracepoint: None,
                        })
                    }
                    Ok(_) => none_matched(self, format!("{provider}:{path}:{lang}{func}")),
                    Err(e) => {
                        self.push(diagnostics::unresolvable_probe(e, ap.span));
                        None
                    }
                }
            }
            Provider::Usdt => {
                // An empty provider (`usdt:::probe`) is any provider, as in bpftrace.
                let (path, prov, name) = match fields.as_slice() {
                    [p, n] => (p, "*".to_string(), n.clone()),
                    [p, pr, n] if pr.is_empty() => (p, "*".to_string(), n.clone()),
                    [p, pr, n] => (p, pr.clone(), n.clone()),
                    _ => return arity_error(self, "usdt:/path/to/binary:[provider:]probe"),
                };
                let found = match catalog.usdt_targets(path, &prov, &name) {
                    Ok(t) if !t.is_empty() => Ok(t),
                    _ if self.opts.load_only => {
                        self.load_only_warning(ap, &format!("usdt:{path}:{prov}:{name}"), catalog);
                        Ok(vec![UsdtTarget {
                            path: path.clone(),
                            provider: prov.clone(),
                            name: name.clone(),
                            offset: 0,
                            semaphore_offset: 0,
                            args: Vec::new(),
                        }])
                    }
                    other => other,
                };
                match found {
                    Ok(targets) if !targets.is_empty() => {
                        let names = targets
                            .iter()
                            .map(|t| format!("usdt:{}:{}:{}", t.path, t.provider, t.name))
                            .collect();
                        Some(Resolved {
                            attach: Attach::Usdt { targets },
                            names,
                            tracepoint: None,
                        })
                    }
                    Ok(_) => none_matched(self, format!("usdt:{path}:{prov}:{name}")),
                    Err(e) => {
                        self.push(diagnostics::unresolvable_probe(e, ap.span));
                        None
                    }
                }
            }
            Provider::Kfunc | Provider::Kretfunc => {
                let ret = ap.provider == Provider::Kretfunc;
                // `fentry:bpf:[ID:]NAME` (bpftrace 0.27): a function of a loaded BPF
                // program rather than of the kernel (no kernel module is named `bpf`).
                if fields.first().is_some_and(|m| m == "bpf") && fields.len() > 1 {
                    let (id, func) = match fields.as_slice() {
                        [_, f] => (None, f.as_str()),
                        [_, id, f] => match id.parse::<u32>() {
                            Ok(id) => (Some(id), f.as_str()),
                            Err(_) => {
                                let d = diagnostics::invalid_bpf_program_id(
                                    ap.provider,
                                    id,
                                    ap.field_span(1),
                                );
                                self.push(d);
                                return None;
                            }
                        },
                        _ => return arity_error(self, "fentry:bpf:[id:]function"),
                    };
                    let targets = catalog.bpf_functions(id, func);
                    if targets.is_empty() {
                        let what = match id {
                            Some(id) => format!("{provider}:bpf:{id}:{func}"),
                            None => format!("{provider}:bpf:{func}"),
                        };
                        return none_matched(self, what);
                    }
                    let names = targets
                        .iter()
                        .map(|t| format!("{provider}:bpf:{}:{}", t.id, t.func))
                        .collect();
                    return Some(Resolved {
                        attach: Attach::BpfFunc { targets, ret },
                        names,
                        tracepoint: None,
                    });
                }
                let (module, func) = match fields.as_slice() {
                    [f] => (None, f.as_str()),
                    [m, f] => (Some(m.as_str()), f.as_str()),
                    _ => return arity_error(self, "fentry:function"),
                };
                let mut targets = catalog.kernel_functions(module, func);
                if targets.is_empty() {
                    if !self.opts.load_only {
                        return none_matched(self, format!("{provider}:{func}"));
                    }
                    self.load_only_warning(ap, &format!("{provider}:{func}"), catalog);
                    targets.push(func.to_string());
                }
                let names = targets.iter().map(|t| format!("{provider}:{t}")).collect();
                Some(Resolved {
                    attach: Attach::Kfunc { targets, ret },
                    names,
                    tracepoint: None,
                })
            }
            Provider::Profile | Provider::Interval => {
                let period = match fields.as_slice() {
                    [unit, n] => {
                        let Some(n) = attach_int(n).filter(|n| *n > 0) else {
                            return arity_error(self, "a positive number, e.g. interval:s:1");
                        };
                        match unit.as_str() {
                            "hz" => PerfPeriod::Frequency(n),
                            "s" => PerfPeriod::Nanoseconds(n * 1_000_000_000),
                            "ms" => PerfPeriod::Nanoseconds(n * 1_000_000),
                            "us" => PerfPeriod::Nanoseconds(n * 1_000),
                            "ns" => PerfPeriod::Nanoseconds(n),
                            other => {
                                self.push(diagnostics::unknown_unit(ap.provider, other, ap.span));
                                return None;
                            }
                        }
                    }
                    // bpftrace 0.24+: one field, a duration (`interval:100ms`) or a number
                    // of nanoseconds, at least a microsecond.
                    [period] => {
                        let ns = match stdlib::literal::duration(period) {
                            Some((n, scale)) => {
                                parse_int(&n.replace('_', "")).and_then(|n| n.checked_mul(scale))
                            }
                            None => attach_int(period),
                        };
                        match ns {
                            Some(ns) if ns >= 1_000 => PerfPeriod::Nanoseconds(ns),
                            _ => {
                                let d = diagnostics::perf_period_too_short(
                                    ap.provider,
                                    period,
                                    ap.span,
                                );
                                self.push(d);
                                return None;
                            }
                        }
                    }
                    _ => return arity_error(self, "a unit and a number, e.g. profile:hz:99"),
                };
                let attach = if ap.provider == Provider::Profile {
                    Attach::Profile { period }
                } else {
                    Attach::Interval { period }
                };
                Some(Resolved {
                    attach,
                    names: vec![format!("{provider}:{}", fields.join(":"))],
                    tracepoint: None,
                })
            }
            Provider::Software | Provider::Hardware => {
                let table = if ap.provider == Provider::Software {
                    SOFTWARE_EVENTS
                } else {
                    HARDWARE_EVENTS
                };
                let (event, count) = match fields.as_slice() {
                    [e] => (e, None),
                    [e, c] if c.is_empty() => (e, None),
                    [e, c] => match attach_int(c) {
                        Some(n) => (e, Some(n)),
                        None => {
                            let d =
                                diagnostics::invalid_count(ap.provider, c, e, last_field_span(ap));
                            self.push(d);
                            return None;
                        }
                    },
                    _ => return arity_error(self, "software:event[:count]"),
                };
                let Some(found) = table
                    .iter()
                    .find(|e| e.name == event || e.alias == Some(event.as_str()))
                else {
                    let names = table.iter().map(|e| e.name);
                    self.push(diagnostics::unknown_perf_event(
                        ap.provider,
                        event,
                        names,
                        ap.span,
                    ));
                    return None;
                };
                let config = found.config;
                let period = count.unwrap_or(found.default_period);
                let attach = if ap.provider == Provider::Software {
                    Attach::Software {
                        event: config,
                        period,
                    }
                } else {
                    Attach::Hardware {
                        event: config,
                        period,
                    }
                };
                Some(Resolved {
                    attach,
                    // `probe` names the event as the script spells it (an alias stays an
                    // alias, an omitted count stays omitted), as bpftrace 0.27 does.
                    names: vec![format!("{provider}:{}", fields.join(":"))],
                    tracepoint: None,
                })
            }
            Provider::Iter => {
                let [target] = fields.as_slice() else {
                    return arity_error(self, "iter:task");
                };
                // An iterator the kernel offers has a context record `bpf_iter__<name>`.
                if has_wildcard(target)
                    || catalog
                        .record(&format!("struct bpf_iter__{target}"))
                        .is_none()
                {
                    return none_matched(self, format!("{provider}:{target}"));
                }
                Some(Resolved {
                    attach: Attach::Iter {
                        target: target.clone(),
                    },
                    names: vec![format!("{provider}:{target}")],
                    tracepoint: None,
                })
            }
            // asyncwatchpoint is 0.17's spelling; with an address it watches as watchpoint does.
            Provider::Watchpoint | Provider::Asyncwatchpoint => {
                let [addr, len, mode] = fields.as_slice() else {
                    return arity_error(
                        self,
                        "an address, a length and a mode, e.g. watchpoint:0x10000000:8:w",
                    );
                };
                let Some(address) = parse_int(addr) else {
                    let d = diagnostics::invalid_watchpoint_address(
                        ap.provider,
                        addr,
                        ap.field_span(0),
                    );
                    self.push(d);
                    return None;
                };
                let Some(length) = parse_int(len).filter(|n| matches!(n, 1 | 2 | 4 | 8)) else {
                    let d =
                        diagnostics::invalid_watchpoint_length(ap.provider, len, ap.field_span(1));
                    self.push(d);
                    return None;
                };
                let Some(access) = watchpoint_access(mode) else {
                    self.push(diagnostics::invalid_watchpoint_mode(mode, ap.field_span(2)));
                    return None;
                };
                // The kernel takes an execution breakpoint only over a whole instruction
                // word (`sizeof(long)`), whatever length the script names.
                let len = if access == HW_BREAKPOINT_X { 8 } else { length };
                Some(Resolved {
                    attach: Attach::Watchpoint {
                        addr: address,
                        len,
                        access,
                    },
                    names: vec![format!("{provider}:{}", fields.join(":"))],
                    tracepoint: None,
                })
            }
        }
    }
}

/// The kernel's hardware breakpoint kinds (`HW_BREAKPOINT_R`, `_W`, `_X`).
const HW_BREAKPOINT_R: u32 = 1;
const HW_BREAKPOINT_W: u32 = 2;
const HW_BREAKPOINT_X: u32 = 4;

/// A watchpoint mode's breakpoint bits: each of `r`, `w`, `x` at most once, in any order,
/// and only the combinations the hardware offers (execute, write, read-or-write; a
/// breakpoint on reads alone does not exist on x86).
fn watchpoint_access(mode: &str) -> Option<u32> {
    let mut bits = 0;
    for c in mode.chars() {
        let bit = match c {
            'r' => HW_BREAKPOINT_R,
            'w' => HW_BREAKPOINT_W,
            'x' => HW_BREAKPOINT_X,
            _ => return None,
        };
        if bits & bit != 0 {
            return None;
        }
        bits |= bit;
    }
    match bits {
        HW_BREAKPOINT_X | HW_BREAKPOINT_W => Some(bits),
        b if b == HW_BREAKPOINT_R | HW_BREAKPOINT_W => Some(bits),
        _ => None,
    }
}

/// Parses a decimal or `0x` hex number.
pub fn parse_int(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Bytes of a tracepoint record's common header (`common_type` to `common_pid`).
pub(super) const SYSCALL_RECORD_HEADER: u32 = 8;

/// A tracepoint attach whose targets are all `syscalls:sys_enter_*` (or all
/// `syscalls:sys_exit_*`) of known x86-64 numbers becomes an [`Attach::Syscall`]: one raw
/// tracepoint program on `sys_enter` (`sys_exit`) that the runtime's dispatcher runs for those
/// numbers. Each perf tracepoint costs the kernel an RCU grace period when it is detached
/// (tens of milliseconds, one after another under a global lock), raw tracepoints almost
/// nothing. The caller keeps the perf tracepoint for a body that reads the record's header,
/// which only it has. Anything else comes back unchanged.
pub fn syscall_dispatch(attach: Attach) -> Attach {
    let Attach::Tracepoint { targets } = &attach else {
        return attach;
    };
    // The numbers, the argument registers and the dispatcher are x86-64's.
    if !cfg!(target_arch = "x86_64") {
        return attach;
    }
    let syscall = |(category, event): &(String, String)| -> Option<(bool, SyscallTarget)> {
        if category != "syscalls" {
            return None;
        }
        let (exit, name) = match (
            event.strip_prefix("sys_enter_"),
            event.strip_prefix("sys_exit_"),
        ) {
            (Some(name), _) => (false, name),
            (None, Some(name)) => (true, name),
            (None, None) => return None,
        };
        let nr = stdlib::syscalls::x86_64_number(name)?;
        Some((
            exit,
            SyscallTarget {
                name: name.into(),
                nr,
            },
        ))
    };
    let Some(found) = targets.iter().map(syscall).collect::<Option<Vec<_>>>() else {
        return attach;
    };
    let Some(exit) = found.first().map(|(exit, _)| *exit) else {
        return attach;
    };
    if found.iter().any(|(e, _)| *e != exit) {
        return attach;
    }
    Attach::Syscall {
        targets: found.into_iter().map(|(_, t)| t).collect(),
        exit,
    }
}

/// `attach` for a probe whose body reads `probe` as a name, its targets' names starting at
/// index `first`: a kprobe or uprobe of several targets stays one program and gives each
/// target its name's index as the attach cookie, which `probe` reads (one kprobe_multi or
/// uprobe_multi link for a whole wildcard, instead of a program and a probe per function; a
/// uprobe each costs a walk of every process that maps the binary: 98 of libc's functions
/// took 11 s so); other kinds get a program per target ([`split_targets`]).
pub fn name_targets(mut attach: Attach, first: u32) -> Vec<Attach> {
    if !attach.cookies_name_targets() {
        return split_targets(attach);
    }
    let cookies = u64::from(first)..;
    match &mut attach {
        Attach::Kprobe { targets, .. } => {
            for (t, c) in targets.iter_mut().zip(cookies) {
                t.cookie = c;
            }
        }
        Attach::Uprobe { targets, .. } => {
            for (t, c) in targets.iter_mut().zip(cookies) {
                t.cookie = c;
            }
        }
        // No other kind names its targets by cookie (`cookies_name_targets`).
        _ => {}
    }
    vec![attach]
}

/// One attach per target of `attach`, in the order of its expanded names, for a probe
/// whose body reads `probe`. Kinds with a single target come back unchanged.
pub fn split_targets(attach: Attach) -> Vec<Attach> {
    match attach {
        Attach::Tracepoint { targets } => targets
            .into_iter()
            .map(|t| Attach::Tracepoint { targets: vec![t] })
            .collect(),
        Attach::Rawtracepoint { targets, btf } => targets
            .into_iter()
            .map(|t| Attach::Rawtracepoint {
                targets: vec![t],
                btf,
            })
            .collect(),
        Attach::Syscall { targets, exit } => targets
            .into_iter()
            .map(|t| Attach::Syscall {
                targets: vec![t],
                exit,
            })
            .collect(),
        // A kprobe_multi link of one target is a plain kprobe.
        Attach::Kprobe { targets, ret, .. } => targets
            .into_iter()
            .map(|t| Attach::Kprobe {
                targets: vec![t],
                ret,
                multi: false,
            })
            .collect(),
        // A uprobe_multi link of one target is a plain uprobe.
        Attach::Uprobe { targets, ret, .. } => targets
            .into_iter()
            .map(|t| Attach::Uprobe {
                targets: vec![t],
                ret,
                multi: false,
            })
            .collect(),
        Attach::Usdt { targets } => targets
            .into_iter()
            .map(|t| Attach::Usdt { targets: vec![t] })
            .collect(),
        Attach::Kfunc { targets, ret } => targets
            .into_iter()
            .map(|t| Attach::Kfunc {
                targets: vec![t],
                ret,
            })
            .collect(),
        Attach::BpfFunc { targets, ret } => targets
            .into_iter()
            .map(|t| Attach::BpfFunc {
                targets: vec![t],
                ret,
            })
            .collect(),
        single @ (Attach::Begin
        | Attach::End
        | Attach::Bench { .. }
        | Attach::Test { .. }
        | Attach::Signal { .. }
        | Attach::Profile { .. }
        | Attach::Interval { .. }
        | Attach::Software { .. }
        | Attach::Hardware { .. }
        | Attach::Watchpoint { .. }
        | Attach::Iter { .. }) => vec![single],
    }
}

/// Whether `text` matches the glob `pattern` (`*` any run of characters, `?` one).
fn glob_matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// `--probe-filter`: keeps the expanded probes whose name `keep` accepts, and begin/end
/// probes whatever their name, as bpftrace 0.27 does. A program loses the targets that do not
/// match and is dropped when none does. Returns how many probes are left to attach.
pub fn filter_probes(script: &mut crate::hir::Script, keep: &dyn Fn(&str) -> bool) -> usize {
    let names = &script.probe_names;
    script.probes.retain_mut(|p| {
        if matches!(p.attach, Attach::Begin | Attach::End) {
            return true;
        }
        let first = p.probe_index as usize;
        let matched: Vec<bool> = (first..first + p.attach.target_count())
            .map(|i| names.get(i).is_some_and(|n| keep(n)))
            .collect();
        p.attach
            .retain_targets(|i| matched.get(i).copied().unwrap_or(false));
        // The program now answers to its first kept name (`probe` is per program only when
        // the body reads it, and such programs have one target).
        if let Some(k) = matched.iter().position(|m| *m) {
            p.probe_index += k as u32;
        }
        matched.contains(&true)
    });
    script.probes.len()
}

/// SIGUSR1's number on Linux (every architecture rbt builds for but MIPS, SPARC and Alpha,
/// which BPF tracing does not target). `lang` does no I/O and has no libc.
const fn libc_sigusr1() -> i32 {
    10
}

/// A number in an attach point: as an integer literal, and also with `_` between digits
/// (`1_000`) or in scientific notation (`1e6`), which bpftrace accepts there.
fn attach_int(text: &str) -> Option<u64> {
    let text = text.replace('_', "");
    match text.split_once(['e', 'E']) {
        Some((mantissa, exp))
            if !mantissa.is_empty()
                && mantissa.bytes().all(|b| b.is_ascii_digit())
                && !exp.is_empty()
                && exp.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let m: u64 = mantissa.parse().ok()?;
            let e: u32 = exp.parse().ok()?;
            m.checked_mul(10u64.checked_pow(e)?)
        }
        _ => parse_int(&text),
    }
}

#[cfg(test)]
mod attach_int_tests {
    use super::attach_int;

    #[test]
    fn scientific_and_separated_numbers() {
        assert_eq!(attach_int("1e6"), Some(1_000_000));
        assert_eq!(attach_int("1_000"), Some(1000));
        assert_eq!(attach_int("0x10"), Some(16));
        assert_eq!(attach_int("2e3k"), None);
        assert_eq!(attach_int("1e99"), None);
    }
}
