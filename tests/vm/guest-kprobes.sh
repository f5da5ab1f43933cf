#!/bin/sh
# tests/vm/guest-kprobes.sh RBT: kprobe checks that run INSIDE the VM guest (tests/vm/run.py):
# kretprobe retval, a wildcard kprobe with `func` and with `probe`, the fallback to a compiler-renamed symbol,
# a BTF field chain through curtask, a symbolized kstack, fentry's `args` as one value,
# skboutput()'s pcap file, fentry on a running rbt's BPF programs, and `-lv` of a kprobe with
# BTF names.
# Each check starts rbt, repeats its trigger until rbt exits on the first event, and compares.
set -u
rbt=$1
out=${RBT_VM_DIR:-/tmp}/kprobe-out.txt
err=${RBT_VM_DIR:-/tmp}/kprobe-err.txt
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# run_until_exit TRIGGER RBT-ARGS...: runs rbt and repeats TRIGGER (a shell command) every
# half second until rbt exits (at most 90 s).
run_until_exit() {
    trigger=$1; shift
    "$rbt" "$@" > "$out" 2> "$err" & pid=$!
    i=0
    while kill -0 $pid 2>/dev/null && [ $i -lt 180 ]; do
        sh -c "$trigger" >/dev/null 2>&1
        sleep 0.5; i=$((i + 1))
    done
    kill -INT $pid 2>/dev/null; wait $pid
}

echo "-- kretprobe retval"
run_until_exit 'cat /nonexistent-rbt-vm' -e 'kretprobe:do_sys_openat2 /comm == "cat" && (int64)retval < 0/ { printf("ret %d\n", retval); exit(); }'
cat "$out"
grep -q '^ret -2$' "$out" || fail "kretprobe retval of a failed open should be -2"

echo "-- wildcard kprobe with func"
run_until_exit 'cat /etc/hostname' -e 'kprobe:vfs_rea* /comm == "cat"/ { @[func] = count(); } interval:s:3 { exit(); }'
cat "$out"
grep -q '^@\[vfs_read\]: [1-9]' "$out" || fail "kprobe:vfs_rea* should count vfs_read by func"

echo "-- wildcard kretprobe and kprobe with probe (one program each, whose attach cookies name the matches)"
# The kprobe comes second: a cookie that named its match relative to its probe, or none,
# would count it under the kretprobe's names.
run_until_exit 'cat /etc/hostname' -e 'kretprobe:vfs_* /comm == "cat"/ { @r[probe] = count(); } kprobe:vfs_* /comm == "cat"/ { @[probe] = count(); } interval:s:3 { exit(); }'
cat "$out"
grep -q '^@\[kprobe:vfs_read\]: [1-9]' "$out" || fail "kprobe:vfs_* should count vfs_read by probe"
grep -q '^@\[kprobe:vfs_write\]: [1-9]' "$out" || fail "kprobe:vfs_* should count vfs_write by probe"
grep -q '^@r\[kretprobe:vfs_read\]: [1-9]' "$out" || fail "kretprobe:vfs_* should count vfs_read by probe"

echo "-- compiler-renamed symbol"
plain=$(grep -E '^[a-z_0-9]+\.isra\.0( |$)' /sys/kernel/tracing/available_filter_functions | cut -d' ' -f1 | sed 's/\.isra\.0$//' | while read -r f; do
    grep -qE "^$f( |$)" /sys/kernel/tracing/available_filter_functions || { echo "$f"; break; }
done)
if [ -n "$plain" ]; then
    "$rbt" -e "kprobe:$plain { } interval:ms:500 { exit(); }" > "$out" 2> "$err"
    status=$?
    cat "$err"
    [ $status = 0 ] || fail "kprobe:$plain did not attach"
    grep -q "attaching to \`$plain.isra.0\`" "$err" || fail "rbt did not say it chose $plain.isra.0"
else
    fail "no .isra.0-only function found in this kernel"
fi

echo "-- BTF field chain through curtask"
run_until_exit 'sleep 0.01' -e 'kprobe:do_nanosleep /comm == "sleep"/ { printf("%d %d\n", curtask->real_parent->pid, curtask->tgid); exit(); }'
cat "$out"
# The trigger's sleep is forked by the `sh -c` of run_until_exit: parent and child pids differ
# and both are real pids.
grep -qE '^[1-9][0-9]* [1-9][0-9]*$' "$out" || fail "curtask->real_parent->pid should print two pids"

echo "-- symbolized kstack"
run_until_exit 'sleep 0.01' -e 'kprobe:do_nanosleep /comm == "sleep"/ { printf("%s\n", kstack); exit(); }'
cat "$out"
grep -q 'nanosleep+[0-9]' "$out" || fail "kstack should show symbolized nanosleep frames"

echo "-- kfunc/kretfunc with BTF-typed args and retval"
run_until_exit 'cat /etc/hostname' -e 'kretfunc:vfs_read /comm == "cat" && retval > 0/ { printf("read %d of %d from %s\n", retval, args.count, func); exit(); }'
cat "$out"
grep -qE '^read [1-9][0-9]* of [1-9][0-9]* from vfs_read$' "$out" || fail "kretfunc:vfs_read should print retval, args.count and func"

echo "-- fentry args as one value (bpftrace's builtin.print args in fentry, store in map, map key)"
run_until_exit 'cat /etc/hostname' -e 'fentry:vfs_open /comm == "cat"/ { print(args); @m = args; @k[args] = 1; exit(); }'
cat "$out"
grep -qE '^\{ \.path = 0x[0-9a-f]+, \.file = 0x[0-9a-f]+ \}$' "$out" || fail "print(args) of fentry:vfs_open should print its record"
grep -qE '^@m: \{ \.path = 0x[0-9a-f]+, \.file = 0x[0-9a-f]+ \}$' "$out" || fail "@m = args should store fentry's args record"
grep -qE '^@k\[\{ \.path = 0x[0-9a-f]+, \.file = 0x[0-9a-f]+ \}\]: 1$' "$out" || fail "args should key a map"

echo "-- skboutput writes a pcap file (bpftrace's call.skboutput)"
pcap=${RBT_VM_DIR:-/tmp}/skb.pcap
rm -f "$pcap"
# Loopback frames carry a 14-byte Ethernet header, which the offset skips: the record's
# bytes start at the IPv4 header (0x45).
run_until_exit "python3 $(dirname "$0")/connect.py 127.0.0.1 1" -e "fentry:__dev_queue_xmit { \$ret = skboutput(\"$pcap\", args.skb, args.skb->len, 14); printf(\"ret: %d\\n\", \$ret); exit(); }"
cat "$out"
grep -q '^ret: 0$' "$out" || fail "skboutput in fentry:__dev_queue_xmit should return 0"
[ "$(od -An -tx4 -N4 "$pcap" | tr -d ' ')" = a1b2c3d4 ] || fail "$pcap should start with the pcap magic"
[ "$(od -An -tx4 -j20 -N4 "$pcap" | tr -d ' ')" = 00000065 ] || fail "$pcap should be RAW IP (linktype 101)"
[ "$(wc -c < "$pcap")" -gt 40 ] || fail "$pcap should hold a record"
[ "$(od -An -tx1 -j40 -N1 "$pcap" | tr -d ' ')" = 45 ] || fail "the packet should start at its IPv4 header"

echo "-- fentry on a running BPF program (bpftrace's probe.attach_to_bpf_program)"
# rbt names each program after its probe kind and index: interval_0, interval_1, interval_2.
"$rbt" -e 'interval:ms:100 { @a = 1; } interval:ms:100 { @a = 2; } interval:s:30 { exit(); }' > /dev/null 2>&1 & target=$!
sleep 3
"$rbt" -l 'fentry:bpf:interval_*' | tee "$out"
grep -qE '^fentry:bpf:[0-9]+:interval_0$' "$out" || fail "-l fentry:bpf:interval_* should list the running rbt's programs"
# Their arguments are typed from the program's BTF: rbt's programs take `void *ctx`.
run_until_exit true -e 'fentry:bpf:interval_* { printf("%s ctx=%d\n", probe, args.ctx != 0); if (@c >= 1) { exit(); } @c = count(); }'
cat "$out" "$err"
grep -qE '^fentry:bpf:[0-9]+:interval_0 ctx=1$' "$out" || fail "fentry:bpf:interval_* should fire in interval_0 with its ctx"
grep -qE '^fentry:bpf:[0-9]+:interval_1 ctx=1$' "$out" || fail "fentry:bpf:interval_* should fire in interval_1 with its ctx"
run_until_exit true -e 'fexit:bpf:interval_0 { printf("exit ctx=%d\n", args.ctx != 0); exit(); }'
kill -INT $target 2>/dev/null; wait $target
cat "$out" "$err"
grep -q '^exit ctx=1$' "$out" || fail "fexit:bpf:interval_0 should fire with its ctx"

echo "-- path() of a struct path field (bpftrace's call.path, path_with_optional_size)"
# A size shorter than the path keeps its end, as bpf_d_path fills its buffer from the back.
run_until_exit 'cat /etc/hostname' -e 'fentry:security_file_open /comm == "cat"/ { $p = path(args.file.f_path); if (strcontains($p, "hostname")) { printf("%s|%s|%d\n", $p, path(args.file->f_path, 9), sizeof(path(args.file.f_path, 9))); exit(); } }'
cat "$out" "$err"
grep -q '^/etc/hostname|hostname|9$' "$out" || fail "path() should print /etc/hostname whole, then cut to its last 8 characters"
echo "-- path() of a struct path pointer"
run_until_exit 'stat /etc/hostname' -e 'fentry:security_inode_getattr /comm == "stat"/ { $p = path(args.path); if (strcontains($p, "hostname")) { printf("%s\n", $p); exit(); } }'
cat "$out" "$err"
grep -q '^/etc/hostname$' "$out" || fail "path(args.path) in fentry:security_inode_getattr should print /etc/hostname"
echo "-- path() where bpf_d_path is not allowed (bpftrace's call.path_in_unsupported_fentry)"
"$rbt" -e 'fentry:vfs_read { print(path(args.file.f_path)); }' > "$out" 2> "$err"
status=$?
cat "$err"
[ $status != 0 ] || fail "path() in fentry:vfs_read should be refused"
grep -q 'path(args.file.f_path)' "$err" || fail "the refusal should underline the path() call"

echo "-- -lv of a kprobe"
"$rbt" -lv 'kprobe:do_nanosleep' | tee "$out"
grep -q 'struct hrtimer_sleeper \*' "$out" || fail "-lv should show do_nanosleep's BTF arguments"

[ $failed = 0 ] && echo "guest kprobe checks: all passed"
exit $failed
