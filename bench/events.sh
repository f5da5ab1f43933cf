#!/bin/sh
# bench/events.sh RBT: per-event cost of map updates on a syscall tracepoint and printf
# throughput, for rbt, Debian's bpftrace and (for count()) a hand-written libbpf C program,
# all in the same run; printf throughput also for bpftrace 0.27.1 ($ORACLE). Root only.
# Prints Markdown. ONLY=printf runs just the printf part.
# Per-event cost, two ways: (ns per getppid() while traced) - (ns per getppid() untraced),
# and the kernel's run time of the BPF program per event (kernel.bpf_stats_enabled, restored
# afterwards). The machine is noisy, so each figure is the median of ROUNDS rounds that
# alternate the tools.
set -eu
rbt=${1:-./target/release/rbt}
here=$(cd "$(dirname "$0")" && pwd)
n=${N:-2000000}
rounds=${ROUNDS:-5}
oracle=${ORACLE:-$here/../../shared/oracle/bpftrace}
only=${ONLY:-all}
work=$(mktemp -d)
loop=$work/loop
gcc -O2 -o "$loop" "$here/loop.c"

# The hand-written baseline: clang for the BPF side, libbpf for the loader.
for p in clang-19 libbpf-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || apt-get install -y -qq "$p" >/dev/null
done
clang-19 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu \
    -c "$here/baseline/count.bpf.c" -o "$work/count.bpf.o"
gcc -O2 -o "$work/count" "$here/baseline/count.c" -lbpf
baseline="$work/count $work/count.bpf.o"

# The kernel's own accounting of time spent in BPF programs (run_time_ns/run_cnt in each
# program's fdinfo) isolates the program's cost from the noise of the syscall around it.
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
trap 'sysctl -qw kernel.bpf_stats_enabled=$stats_was' EXIT
# ns per run of PID's BPF programs since they were loaded.
bpf_ns() {
    for f in /proc/"$1"/fdinfo/*; do
        grep -q '^prog_type' "$f" 2>/dev/null &&
            awk '/^run_time_ns/ {t += $2} /^run_cnt/ {c += $2} END {print t + 0, c + 0}' "$f"
    done | awk '{t += $1; c += $2} END {if (c) printf "%.1f\n", t / c; else print 0}'
}

# Starts CMD (a shell command line), waits until it prints "Attach" (0.17 on stdout, rbt and
# 0.27 on stderr), runs the loop, reads
# the programs' run time, stops CMD with SIGINT; prints "loop-ns-per-call bpf-ns-per-run".
traced() {
    out=$work/out
    sh -c "exec $1" > "$out" 2>"$work/err" & pid=$!
    for _ in $(seq 1 200); do grep -q Attach "$out" "$work/err" 2>/dev/null && break; sleep 0.05; done
    sleep 0.5
    r=$("$loop" "$n")
    b=$(bpf_ns $pid)
    kill -INT $pid; wait $pid 2>/dev/null || true
    echo "$r $b"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

if [ "$only" != printf ]; then
count='tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }'
sumhist='tracepoint:syscalls:sys_enter_getppid { @c[tid] = sum(1); @h = hist(tid); }'
# One round: the loop untraced, then each tool in turn. Per tool and script two figures:
# ns added to each getppid() (loop), and ns spent in the BPF program per event (kernel stats).
record() { # NAME CMD BASE
    set -- "$1" "$2" "$3" "$(traced "$2")"
    echo "${4% *} - $3" | bc >> "$work/$1.loop"
    echo "${4#* }" >> "$work/$1.bpf"
}
for r in $(seq 1 "$rounds"); do
    base=$("$loop" "$n")
    echo "$base" >> "$work/base"
    for name in count sumhist; do
        eval prog=\$$name
        record "rbt.$name" "$rbt -e '$prog'" "$base"
        record "bpftrace.$name" "bpftrace -e '$prog'" "$base"
    done
    record "c.count" "$baseline" "$base"
done
m() { median < "$work/$1"; }
echo "untraced getppid(): $(m base) ns/call (N=$n, medians of $rounds rounds)"
echo
echo "ns added to each traced getppid() / ns in the BPF program per event:"
echo
echo "| script | rbt | bpftrace | libbpf C |"
echo "|---|---|---|---|"
echo "| \`$count\` | $(m rbt.count.loop) / $(m rbt.count.bpf) | $(m bpftrace.count.loop) / $(m bpftrace.count.bpf) | $(m c.count.loop) / $(m c.count.bpf) |"
echo "| \`$sumhist\` | $(m rbt.sumhist.loop) / $(m rbt.sumhist.bpf) | $(m bpftrace.sumhist.loop) / $(m bpftrace.sumhist.bpf) | |"
fi

# Voluntary context switches of all of PID's threads: each is a thread going to sleep, so
# for a tool reading events it counts the reader's wake-ups.
switches() {
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'
}

# printf: events written per second while the loop runs, what was lost, the tool's CPU time
# (user + system, from /proc/PID/stat) per line printed, and how often the reader was woken
# (from the start of the loop until 1 s after its end). Flat out (N calls, one printf each),
# flat out with four printf per call (so the producer, one getppid() loop, is not what
# bounds the rate), and paced at most 10,000 a second (N/100 calls, 100 us apart), where a
# reader that keeps up would be woken for every event if records asked for it.
pf='tracepoint:syscalls:sys_enter_getppid { printf("%d %d\n", pid, tid); }'
pf4='tracepoint:syscalls:sys_enter_getppid { printf("%d %d\n", pid, tid); printf("%d %d\n", pid, tid); printf("%d %d\n", pid, tid); printf("%d %d\n", pid, tid); }'
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
echo
printf 'printf: `%s` (and four of them per call)\n\n' "$pf"
echo "| load | tool | events/s | lost | CPU us per line | reader wake-ups | wake-ups per 1000 events |"
echo "|---|---|---|---|---|---|---|"
for load in "flat out:$n:0:$pf" "flat out x4:$n:0:$pf4" "paced:$((n / 100)):100:$pf"; do
    name=${load%%:*}; rest=${load#*:}
    calls=${rest%%:*}; rest=${rest#*:}
    pause=${rest%%:*}; prog=${rest#*:}
    for tool in "$rbt" /usr/bin/bpftrace "$oracle"; do
        $tool -e "$prog" > "$work/pf" 2>"$work/pferr" & pid=$!
        for _ in $(seq 1 200); do grep -q Attach "$work/pf" "$work/pferr" 2>/dev/null && break; sleep 0.05; done
        sleep 0.5
        w0=$(switches $pid); c0=$(cpu $pid)
        start=$(date +%s.%N); "$loop" "$calls" "$pause" >/dev/null; end=$(date +%s.%N)
        sleep 1; w1=$(switches $pid); c1=$(cpu $pid)
        kill -INT $pid; wait $pid 2>/dev/null || true
        got=$(grep -c '^[0-9]' "$work/pf" || true)
        # Every "Lost N events" report (not rbt's closing "in total" line), added up.
        lost=$(cat "$work/pferr" "$work/pf" | awk '/^Lost [0-9]+ events$/ {s += $2} END {print s + 0}')
        wakes=$((w1 - w0))
        case $tool in
            "$rbt") label=rbt ;;
            /usr/bin/bpftrace) label="bpftrace 0.17" ;;
            *) label="bpftrace 0.27.1" ;;
        esac
        echo "| $name | $label | $(echo "$got / ($end - $start)" | bc) | $lost | $(echo "scale=3; 1000000 * ($c1 - $c0) / $ticks / ($got + 1)" | bc) | $wakes | $(echo "scale=2; 1000 * $wakes / ($got + 1)" | bc) |"
    done
done
rm -rf "$work"
