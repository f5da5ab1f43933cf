#!/bin/sh
# bench/startup-order.sh RBT_COMPILE: records which C++ (LLVM) functions a typical compile by
# rbt-compile (the half of rbt that links LLVM) executes and
# writes them to src/startup-order.txt, the order build.rs hands to the linker so that these
# functions sit together and a run touches few pages of the binary. Run it (root, valgrind
# installed) after changing the LLVM version or how codegen drives LLVM, then rebuild.
# Rust functions are left out: their symbol names carry a hash that changes with every build.
set -eu
rbt=${1:-./target/release/rbt-compile}
here=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
out=$(mktemp -d)
i=0
record() {
    i=$((i + 1))
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$out/cg.$i" "$rbt" --no-cache "$@" \
        >/dev/null 2>&1 || true
}
# The paths a user takes: run a script, load one, compile one with maps/strings/histograms,
# list probes, and fail to parse.
record -e 'BEGIN { printf("hi\n"); exit(); }'
record --dry-run "$here/../scripts/opensnoop.bt"
record --dry-run -e 'tracepoint:syscalls:sys_enter_read /pid > 1/ { @[comm, tid] = count(); @h = hist(args.count); @l = lhist(args.count, 0, 100, 10); @s = stats(arg0); $s = str(args.buf); if ($s == "x") { printf("%s %d\n", $s, @s); } } interval:s:1 { print(@h); clear(@l); exit(); }'
record -l 'tracepoint:syscalls:*'
record -e 'BEGIN { $x = ; }'
python3 - "$out" "$here/../src/startup-order.txt" <<'PY'
import glob, re, sys
out_dir, dest = sys.argv[1], sys.argv[2]
names = set()
for path in glob.glob(out_dir + "/cg.*"):
    objs, fns, obj = {}, {}, None
    for line in open(path, errors="replace"):
        m = re.match(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", line.strip())
        if not m:
            continue
        kind, num, name = m.groups()
        table = objs if kind.endswith("ob") else fns
        if name:
            table[num] = name
        if kind == "ob":
            obj = objs[num]
        elif kind == "fn" and obj and obj.endswith("/rbt"):
            names.add(fns[num].split("'")[0])
keep = [n for n in names
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.$]*", n)
        and not re.fullmatch(r"_ZN.*17h[0-9a-f]{16}E", n)]
# Static constructors first (every run executes them), then the rest by name.
keep.sort(key=lambda n: (not n.startswith("_GLOBAL__sub_I"), n))
open(dest, "w").write("\n".join(keep) + "\n")
print(f"{len(keep)} functions written to {dest}")
PY
rm -rf "$out"
