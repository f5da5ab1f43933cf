#!/bin/sh
# tests/vm/test-core.sh RBT: the VM tier's CO-RE check. Programs compiled against the HOST's
# kernel BTF (Linux 6.18: BPFTRACE_BTF points at a copy of the host's /sys/kernel/btf/vmlinux)
# run in the Debian 6.1 guest, whose struct task_struct lays its fields out elsewhere: a BTF field
# chain, a nested record, a bit-field, a tracepoint's args and a kprobe's struct fields must read
# the same values as the same scripts compiled against the guest's own BTF, because libbpf
# relocates every field access to the guest's layout when it loads the object. A field the guest's kernel lacks (task_struct.mm_cid,
# Linux 6.3+) must be a load-time error naming the field and the script line.
set -eu
rbt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*" >&2; exit 1; }

# Staged under the cache directory, which the guest sees (see test-seed-scripts.sh).
stage=${RBT_VM_CACHE:-/var/cache/rbt-vm}/stage-core-$$
rm -rf "$stage"
mkdir -p "$stage"
strip -o "$stage/rbt" "$rbt" 2>/dev/null || cp "$rbt" "$stage/rbt"
cp /sys/kernel/btf/vmlinux "$stage/host-btf"
trap 'rm -rf "$stage"' EXIT
repo=$(pwd)
cd "$stage"

chain='BEGIN {
  printf("offset %d\n", offsetof(struct task_struct, real_parent));
  printf("chain %d %d %d %d %s\n", curtask->real_parent->tgid == $1, curtask->pid == tid,
         curtask->tgid == pid, curtask->se.load.weight, curtask->comm);
  exit();
}'
exec_tp='tracepoint:sched:sched_process_exec /comm == "true"/ {
  printf("exec %s %d %d\n", str(args.filename), args.old_pid == args.pid, curtask->in_execve);
  exit();
}'
# A kprobe (the seed's key_pressed.bt, with its device read through a struct cast) while
# keyboard.py presses keys on a virtual keyboard named "rbt-vm keyboard" (vendor 1234).
key='kprobe:input_event /arg1 == 1 && arg3 == 1/ {
  $d = (struct input_dev *)arg0;
  printf("key %d %s %x %x %d\n", arg2, str($d->name), $d->id.vendor, $d->id.product,
         curtask->real_parent->pid > 0);
  exit();
}'
missing='BEGIN {
  printf("%d\n", curtask->mm_cid);
}'

out=$(python3 "$repo/tests/vm/run.py" --timeout 300 -- sh -c "
    uname -r
    for btf in guest host; do
        if [ \$btf = host ]; then export BPFTRACE_BTF=$stage/host-btf; fi
        echo \"== \$btf\"
        ./rbt -e '$chain' \$\$ 2>&1
        ./rbt -e '$exec_tp' -c /bin/true 2>&1
        ./rbt -e '$key' > \$RBT_VM_DIR/key.txt 2>&1 & pid=\$!
        for i in \$(seq 1 120); do
            python3 $repo/tests/vm/keyboard.py 30
            grep -q '^key' \$RBT_VM_DIR/key.txt && break
            sleep 1
        done
        wait \$pid
        cat \$RBT_VM_DIR/key.txt
    done
    echo '== missing'
    ./rbt -e '$missing' 2>&1 || echo \"status \$?\"")
echo "$out"

section() { echo "$out" | sed -n "/^== $1\$/,/^== /p" | grep -v '^=='; }
guest=$(section guest)
host=$(section host)
guest_offset=$(echo "$guest" | sed -n 's/^offset //p')
host_offset=$(echo "$host" | sed -n 's/^offset //p')
[ -n "$guest_offset" ] && [ -n "$host_offset" ] || fail "no offsets printed"
# The proof needs layouts that differ: the host's offset is baked into the host-BTF object.
[ "$guest_offset" != "$host_offset" ] ||
    fail "task_struct.real_parent is at $guest_offset in both kernels: nothing to relocate"
echo "$guest" | grep -q '^chain 1 1 1 1048576 rbt$' || fail "the guest-compiled chain read wrong values"
[ "$(echo "$guest" | grep -e '^chain' -e '^exec')" = "$(echo "$host" | grep -e '^chain' -e '^exec')" ] ||
    fail "the host-compiled program read other values than the guest-compiled one"
echo "$host" | grep -q '^exec /bin/true 1 1$' || fail "tracepoint args of the host-compiled program"
echo "$guest" | grep -q '^key 30 rbt-vm keyboard 1234 5678 1$' || fail "the guest-compiled kprobe read wrong values"
[ "$(echo "$guest" | grep '^key')" = "$(echo "$host" | grep '^key')" ] ||
    fail "the host-compiled kprobe read other values than the guest-compiled one"
echo "$out" | grep -q 'the running kernel has no struct task_struct.mm_cid' ||
    fail "a field the guest lacks is not named at load time"
echo "$out" | grep -q 'curtask->mm_cid' || fail "the missing field's script line is not shown"
echo "PASS: CO-RE (task_struct.real_parent at $host_offset on the host, $guest_offset in the guest)"
