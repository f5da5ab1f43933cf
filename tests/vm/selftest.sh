#!/bin/sh
# tests/vm/selftest.sh — proves the VM test tier works end to end (owned by tests/vm).
#
# On the host it boots the VM once (tests/vm/run.py) and re-runs itself inside. Inside it checks the
# environment tests rely on (Debian 6.1 kernel, kprobes, /dev/uinput, loopback, writable $RBT_VM_DIR),
# then uses Debian's bpftrace as the oracle: one bpftrace with kprobes on input_event and arp_create
# must see the key presses of keyboard.py and the ARP request of arp.sh with v0's address and MAC.
# Without bpftrace installed the oracle part is skipped with a message (it belongs to tier 4's setup).
# Exit status 0 only if every check passed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

if [ -z "${RBT_VM:-}" ]; then
    exec "$here/run.py" --timeout "${RBT_VM_TIMEOUT:-300}" -- sh "$here/selftest.sh"
fi

# --- inside the guest ---------------------------------------------------------------------------------
failures=0
check() { # check NAME COMMAND...: runs COMMAND quietly, reports
    name=$1; shift
    if "$@" >/dev/null 2>&1; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
check "kernel is Debian 6.1" sh -c 'uname -r | grep -q "^6\.1\..*-amd64$"'
check "kprobes available" grep -qx input_event /sys/kernel/tracing/available_filter_functions
check "BTF present" test -s /sys/kernel/btf/vmlinux
check "/dev/uinput" test -c /dev/uinput
check "loopback up" sh -c 'ip -o link show lo | grep -q "UP"'
check "results dir writable" sh -c 'echo x > "$RBT_VM_DIR/selftest.tmp" && rm "$RBT_VM_DIR/selftest.tmp"'

if ! command -v bpftrace >/dev/null; then
    echo "skip bpftrace oracle: bpftrace is not installed (apt-get install bpftrace)"
else
    out=$RBT_VM_DIR/selftest.bpftrace
    # BEGIN prints only after every probe is attached, so "ready" means events will be seen.
    bpftrace -e '
        BEGIN { printf("ready\n"); }
        kprobe:input_event /arg1 == 1/ { printf("key %d %d\n", arg2, arg3); }
        kprobe:arp_create { printf("arp %s %s\n", ntop(arg4), macaddr(((struct net_device *)arg3)->dev_addr)); }
    ' >"$out" 2>&1 &
    pid=$!
    waited=0
    while ! grep -qx ready "$out" 2>/dev/null; do
        # bpftrace needs 10-30 s to start under TCG; give up well before run.py's timeout.
        if [ $waited -ge 600 ] || ! kill -0 $pid 2>/dev/null; then
            echo "FAIL bpftrace did not start:"; cat "$out"; exit 1
        fi
        sleep 0.2; waited=$((waited + 1))
    done
    python3 "$here/keyboard.py" 30 31 30
    mac=$(sh "$here/arp.sh")
    sleep 1
    kill -INT $pid; wait $pid || true

    keys=$(grep '^key ' "$out" | tr '\n' ' ')
    echo "bpftrace saw: $keys"
    check "input_event saw keys 30 31 30" test "$keys" = "key 30 1 key 30 0 key 31 1 key 31 0 key 30 1 key 30 0 "
    arp=$(grep '^arp ' "$out" | head -n 1)
    echo "bpftrace saw: $arp (v0 is $mac)"
    check "arp_create saw 10.99.0.1 and v0's MAC" sh -c '[ "$(echo "$1" | tr A-F a-f)" = "arp 10.99.0.1 $2" ]' - "$arp" "$mac"
fi

[ $failures -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "VM tier self-test passed"
