#!/bin/sh
# tests/vm/test-seed-scripts.sh RBT: the VM tier's tests of the kprobe seed scripts. Boots the
# Debian 6.1 guest (tests/vm/run.py), runs scripts/key_pressed.bt while a virtual keyboard presses
# keys, and scripts/others.bt while a mkdir and an ARP request happen, then checks the output.
set -eu
rbt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*" >&2; exit 1; }

# The guest sees the host's root read-only but gets fresh tmpfs on /tmp, /run and /var/tmp, so
# a checkout under those (CI clones often live in /tmp) is invisible inside. Stage the binary,
# the scripts and the VM helpers under the cache directory, which the guest does see.
stage=${RBT_VM_CACHE:-/var/cache/rbt-vm}/stage-$$
rm -rf "$stage"
mkdir -p "$stage/tests"
# A stripped copy: the guest needs no debug info, and the disk may be small.
strip -o "$stage/rbt" "$rbt" 2>/dev/null || cp "$rbt" "$stage/rbt"
# The compiler the front end runs for everything but cache hits (src/lib.rs), beside it.
compiler=$(dirname "$rbt")/rbt-compile
strip -o "$stage/rbt-compile" "$compiler" 2>/dev/null || cp "$compiler" "$stage/rbt-compile"
cp -r scripts "$stage/scripts"
cp -rp tests/vm "$stage/tests/vm"
trap 'rm -rf "$stage"' EXIT
rbt=$stage/rbt
repo=$(pwd)
cd "$stage"

# Compiling under TCG takes seconds and the scripts' output is read from one file, so rather
# than wait for "Attached N probes" each test first repeats a harmless sentinel event until rbt
# reports it, then makes the events it checks.

echo "-- key_pressed.bt"
out=$(python3 "$repo/tests/vm/run.py" --timeout 300 -- sh -c "
    $rbt scripts/key_pressed.bt > \$RBT_VM_DIR/out.txt 2>&1 & pid=\$!
    for i in \$(seq 1 120); do
        python3 tests/vm/keyboard.py 2
        grep -q 'code 2\$' \$RBT_VM_DIR/out.txt && break
        sleep 1
    done
    python3 tests/vm/keyboard.py 30 31 30 48 30 17 30 31
    sleep 2; kill -INT \$pid; wait \$pid
    cat \$RBT_VM_DIR/out.txt")
echo "$out"
[ "$(echo "$out" | grep -c '^key pressed: code 30$')" = 4 ] || fail "key 30 was pressed 4 times"
echo "$out" | grep -q '^key pressed: code 48$' || fail "key 48 not reported"
echo "$out" | grep -q '^@keys\[30\]: 4$' || fail "top keys: @keys[30] should be 4"
echo "$out" | grep -q '^@keys\[31\]: 2$' || fail "top keys: @keys[31] should be 2"
echo "$out" | grep -q '^@keys\[17\]: 1$' || fail "top keys: @keys[17] should be 1"
echo "$out" | grep -q '^@keys\[2\]: [0-9]*$' || fail "top keys: the sentinel key 2 is missing"
[ "$(echo "$out" | grep -c '^@keys')" = 5 ] || fail "five distinct keys expected in the summary"

echo "-- others.bt"
out=$(python3 "$repo/tests/vm/run.py" --timeout 300 -- sh -c "
    $rbt scripts/others.bt > \$RBT_VM_DIR/out.txt 2>&1 & pid=\$!
    for i in \$(seq 1 120); do
        mkdir /tmp/rbt-vm-sentinel-\$i
        grep -q 'rbt-vm-sentinel' \$RBT_VM_DIR/out.txt && break
        sleep 1
    done
    mkdir -m 750 /tmp/rbt-vm-mkdir-test
    mac=\$(sh tests/vm/arp.sh)
    sleep 2; kill -INT \$pid; wait \$pid
    cat \$RBT_VM_DIR/out.txt; echo MAC=\$mac")
echo "$out"
echo "$out" | grep -q 'mkdir by mkdir (pid [0-9]*): /tmp/rbt-vm-mkdir-test mode 750' || fail "mkdir not reported"
mac=$(echo "$out" | sed -n 's/^MAC=//p' | tr 'a-f' 'A-F')
echo "$out" | grep -q "ARP type 1: 10.99.0.1 ($mac) asks for 10.99.0.2" || fail "ARP request from 10.99.0.1 ($mac) not reported"

echo "-- tcpconnect.bt (a real connect() over IPv4 and IPv6 loopback)"
out=$(python3 "$repo/tests/vm/run.py" --timeout 300 -- sh -c "
    $rbt scripts/tcpconnect.bt > \$RBT_VM_DIR/out.txt 2>&1 & pid=\$!
    for i in \$(seq 1 120); do
        python3 tests/vm/connect.py 127.0.0.1 4242
        grep -q 'rport = 4242' \$RBT_VM_DIR/out.txt && break
        sleep 1
    done
    python3 tests/vm/connect.py ::1 4243
    sleep 2; kill -INT \$pid; wait \$pid
    cat \$RBT_VM_DIR/out.txt")
echo "$out"
echo "$out" | grep -q '^{ .proc = [0-9]*, .command = python3, .laddr = 127.0.0.1, .raddr = 127.0.0.1, .rport = 4242 }$' || fail "IPv4 connect not reported"
echo "$out" | grep -q '^{ .proc = [0-9]*, .command = python3, .laddr = ::1, .raddr = ::1, .rport = 4243 }$' || fail "IPv6 connect not reported"

echo "-- kprobe features (tests/vm/guest-kprobes.sh)"
python3 "$repo/tests/vm/run.py" --timeout 600 -- sh tests/vm/guest-kprobes.sh "$rbt" || fail "kprobe feature checks failed"

echo "-- --dry-run of every bpftrace tool in /usr/sbin (a 6.1 kernel, contemporary with them)"
if ls /usr/sbin/*.bt >/dev/null 2>&1; then
    out=$(python3 "$repo/tests/vm/run.py" --timeout 1500 -- sh -c "
        for f in /usr/sbin/*.bt; do
            if $rbt --dry-run \$f >/dev/null 2>\$RBT_VM_DIR/err; then echo \"ok \$f\"; else echo \"FAILED \$f: \$(grep -m1 error \$RBT_VM_DIR/err)\"; fi
        done")
    echo "$out"
    total=$(echo "$out" | grep -c '^ok ')
    echo "$total tools loaded"
    echo "$out" | grep -q '^FAILED' && fail "some tools did not load"
    [ "$total" -ge 38 ] || fail "expected all 38 tools"
else
    echo "skipped: bpftrace's tools are not installed (apt-get install bpftrace)"
fi
echo "VM tier: all passed"
