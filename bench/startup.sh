#!/bin/sh
# bench/startup.sh RBT: start-up wall time and peak memory of `BEGIN { exit(); }` and of
# opensnoop until attached, for rbt without its compile cache (`--no-cache`: the front end
# execs rbt-compile), rbt on a cache hit (run by the front end, which links no LLVM), rbt-run
# on an `rbt --aot` file, Debian's bpftrace 0.17 and the bpftrace 0.27.1 oracle, all in the same run (hyperfine for time, GNU time's / wait4's max RSS for memory);
# then the binaries' stripped sizes and probe listing. Root only. Prints Markdown tables;
# the recorded figures live in bench/RESULTS.md.
set -eu
rbt=$(realpath "${1:-./target/release/rbt}")
bin=$(dirname "$rbt")
rbt_run=$bin/rbt-run
here=$(cd "$(dirname "$0")" && pwd)
oracle=${RBT_ORACLE:-$here/../../shared/oracle/bpftrace}
prog='BEGIN { exit(); }'
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
[ -x "$rbt_run" ] || { echo "no rbt-run beside $rbt (cargo build --release --workspace)" >&2; exit 1; }

# The cache of this run only.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME=$work/cache
"$rbt" -e "$prog" >/dev/null
"$rbt" --aot "$work/begin.rbt" -e "$prog"
# Debian 12's opensnoop.bt (written for 0.17, run unchanged by every tool here), copied to
# where the 0.27.1 oracle's chroot sees it.
cp /usr/sbin/opensnoop.bt "$work/opensnoop.bt"
"$rbt" --aot "$work/opensnoop.rbt" "$work/opensnoop.bt"

# label|command, one a line (hyperfine splits the command into words itself, -N).
begin_cmds="rbt cold (--no-cache)|$rbt --no-cache -e '$prog'
rbt cached|$rbt -e '$prog'
rbt-run on an --aot file|$rbt_run $work/begin.rbt
bpftrace 0.17|/usr/bin/bpftrace -e '$prog'
bpftrace 0.27.1|$oracle -e '$prog'"

peak() { /usr/bin/time -f %M "$@" >/dev/null 2>"$work/time"; tail -n1 "$work/time"; }
echo "| \`BEGIN { exit(); }\` | mean wall time | peak RSS (KiB) |"
echo "|---|---|---|"
echo "$begin_cmds" | while IFS='|' read -r label cmd; do
    hyperfine -N -w 3 -r 20 --export-json "$work/h.json" "$cmd" >/dev/null 2>&1
    mean=$(python3 -c "import json,sys;print('%.1f ms' % (json.load(open(sys.argv[1]))['results'][0]['mean']*1000))" "$work/h.json")
    # The command's words as the shell would split them (the program is one quoted word).
    eval "set -- $cmd"
    echo "| $label | $mean | $(peak "$@") |"
done

# opensnoop from start to exit with `-c /bin/true`: everything a run does (start-up, compile
# or cache hit, load, attach, run the command, detach, exit), timed by hyperfine without a
# harness in between (the table after this one times through Python and GNU time, which add
# 15-20 ms to every tool). bpftraces take 0.5 s a run, so 5 runs each.
echo
echo "| opensnoop \`-c /bin/true\`, start to exit | mean wall time (hyperfine) |"
echo "|---|---|"
snoop_cmds="rbt cold (--no-cache)|20|$rbt --no-cache -c /bin/true $work/opensnoop.bt
rbt cached|20|$rbt -c /bin/true $work/opensnoop.bt
rbt-run on an --aot file|20|$rbt_run -c /bin/true $work/opensnoop.rbt
bpftrace 0.17|5|/usr/bin/bpftrace -c /bin/true $work/opensnoop.bt
bpftrace 0.27.1|5|$oracle -c /bin/true $work/opensnoop.bt"
echo "$snoop_cmds" | while IFS='|' read -r label n cmd; do
    hyperfine -N -w 1 -r "$n" --export-json "$work/h.json" "$cmd" >/dev/null 2>&1
    mean=$(python3 -c "import json,sys;print('%.1f ms' % (json.load(open(sys.argv[1]))['results'][0]['mean']*1000))" "$work/h.json")
    echo "| $label | $mean |"
done
# opensnoop until attached: wall time from exec until BEGIN's header line appears (BEGIN runs
# once every probe is attached), and the peak RSS of the process stopped right then (SIGINT).
# Median of 10 runs each (after one that fills the cache), and the resident set at that moment.
echo
echo "| opensnoop until attached | median wall time | median peak RSS (KiB) | RSS while tracing (KiB) |"
echo "|---|---|---|---|"
script=$work/opensnoop.bt
python3 - "$rbt" "$rbt_run" "$work/opensnoop.rbt" "$script" "$oracle" <<'PY'
import os, signal, statistics, subprocess, sys, threading, time
rbt, rbt_run, compiled, script, oracle = sys.argv[1:]
runs = [
    ("rbt cold (--no-cache)", [rbt, "--no-cache", script]),
    ("rbt cached", [rbt, script]),
    ("rbt-run on an --aot file", [rbt_run, compiled]),
    ("bpftrace 0.17", ["/usr/bin/bpftrace", script]),
    ("bpftrace 0.27.1", [oracle, script]),
]
peak_file = os.path.join(os.path.dirname(compiled), "peak")
def once(argv):
    # Under GNU time, whose max RSS is the tool's: a child forked from Python would count
    # Python's pages (the kernel keeps the high-water mark of the image exec replaces), and
    # that was 8 MiB more than rbt-run's whole run. SIGINT goes to the tool, not to time.
    start = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", peak_file] + argv,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    # A run that never attaches is killed, and reported as a failed sample.
    guard = threading.Timer(30, p.kill)
    guard.start()
    for line in p.stdout:
        if line.startswith(b"PID"):
            break
    elapsed = time.monotonic() - start
    with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
        children = f.read().split()
    if not children:
        guard.cancel()
        p.stdout.read()
        p.wait()
        sys.exit(f"{argv} ended before it attached")
    tool = int(children[0])
    # What stays resident while it traces.
    with open(f"/proc/{tool}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    os.kill(tool, signal.SIGINT)
    p.stdout.read()
    p.wait()
    guard.cancel()
    with open(peak_file) as f:
        return elapsed, int(f.read().split()[-1]), rss
for label, argv in runs:
    once(argv)
    times, peaks, rss = zip(*(once(argv) for _ in range(10)))
    print(f"| {label} | {statistics.median(times) * 1000:.1f} ms | {int(statistics.median(peaks))} | {int(statistics.median(rss))} |")
PY

echo
echo "| binary | stripped size |"
echo "|---|---|"
for b in "$rbt" "$bin/rbt-compile" "$rbt_run"; do
    strip -o "$work/stripped" "$b"
    echo "| $(basename "$b") | $(stat -c %s "$work/stripped" | awk '{printf "%.2f MB (%d bytes)", $1/1e6, $1}') |"
done

# Probe listing: everything, and every kprobe (bpftrace 0.17 lists no kprobes where
# available_filter_functions is unreadable, as on the development machines; rbt reads kallsyms).
[ "${RBT_BENCH_LISTING:-1}" = 0 ] && exit 0
echo
echo "| listing | tool | mean wall time | lines |"
echo "|---|---|---|---|"
for pattern in "" "kprobe:*"; do
    for tool in "$rbt" bpftrace; do
        hyperfine -N -w 1 -r 5 --export-json "$work/h.json" "$tool -l $pattern" >/dev/null 2>&1 || true
        mean=$(python3 -c "import json,sys;print('%.0f ms' % (json.load(open(sys.argv[1]))['results'][0]['mean']*1000))" "$work/h.json")
        lines=$($tool -l $pattern 2>/dev/null | wc -l)
        echo "| \`-l $pattern\` | $(basename "$tool") | $mean | $lines |"
    done
done
