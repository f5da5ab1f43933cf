#!/bin/sh
# tests/vm/test-core.sh RBT: the VM tier's CO-RE check. Scripts compiled ON THE HOST (Linux 6.18)
# with `rbt --aot` run in the Debian 6.1 guest with `rbt-run` (built beside RBT), where struct
# task_struct lays its fields out elsewhere: a BTF field chain, a nested record, a bit-field, a
# tracepoint's args and a kprobe's struct fields (the seed's key_pressed.bt reading its device)
# must print what the same scripts print when the guest's rbt compiles them, because libbpf
# relocates every field access to the guest's layout when it loads the object. The same holds
# for the guest's rbt compiling against the host's BTF (BPFTRACE_BTF). A field the guest's kernel
# lacks (task_struct.mm_cid, Linux 6.3+) is a load-time error naming the field and script line.
# `ncpus` is read where the file runs too: the one-CPU guest, not the host that compiled it.
set -eu
rbt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
rbt_run=$(dirname "$rbt")/rbt-run
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$rbt_run" ] || fail "no rbt-run beside $rbt (cargo build -p rbt-run)"

# Staged under the cache directory, which the guest sees (see test-seed-scripts.sh).
stage=${RBT_VM_CACHE:-/var/cache/rbt-vm}/stage-core-$$
rm -rf "$stage"
mkdir -p "$stage"
strip -o "$stage/rbt" "$rbt" 2>/dev/null || cp "$rbt" "$stage/rbt"
strip -o "$stage/rbt-compile" "$(dirname "$rbt")/rbt-compile" 2>/dev/null ||
    cp "$(dirname "$rbt")/rbt-compile" "$stage/rbt-compile"
strip -o "$stage/rbt-run" "$rbt_run" 2>/dev/null || cp "$rbt_run" "$stage/rbt-run"
cp /sys/kernel/btf/vmlinux "$stage/host-btf"
trap 'rm -rf "$stage"' EXIT
repo=$(pwd)
cd "$stage"

cat > chain.bt <<'EOS'
BEGIN {
  printf("offset %d\n", offsetof(struct task_struct, real_parent));
  printf("chain %d %d %d %d %s\n", curtask->real_parent->tgid == $1, curtask->pid == tid,
         curtask->tgid == pid, curtask->se.load.weight, curtask->comm);
  printf("cpus %d\n", ncpus);
  exit();
}
EOS
cat > exec.bt <<'EOS'
tracepoint:sched:sched_process_exec /comm == "true"/ {
  printf("exec %s %d %d\n", str(args.filename), args.old_pid == args.pid, curtask->in_execve);
  exit();
}
EOS
# key_pressed.bt's probe, reading the device through a struct cast, while keyboard.py presses
# keys on a virtual keyboard named "rbt-vm keyboard" (vendor 1234, product 5678).
cat > key.bt <<'EOS'
kprobe:input_event /arg1 == 1 && arg3 == 1/ {
  $d = (struct input_dev *)arg0;
  printf("key %d %s %x %x %d\n", arg2, str($d->name), $d->id.vendor, $d->id.product,
         curtask->real_parent->pid > 0);
  exit();
}
EOS
cat > missing.bt <<'EOS'
BEGIN {
  printf("%d\n", curtask->mm_cid);
}
EOS
# Compiled here, on the host (no kprobes here: attaching is the guest's business).
for s in chain exec key missing; do
    "$rbt" --aot "$s.rbt" "$s.bt" 2>/dev/null || fail "rbt --aot $s.bt"
done

out=$(python3 "$repo/tests/vm/run.py" --timeout 400 -- sh -c "
    uname -r
    for how in guest host btf; do
        case \$how in
            guest) run() { s=\$1; shift; ./rbt \$s.bt \"\$@\"; } ;;
            host) run() { s=\$1; shift; ./rbt-run \$s.rbt \"\$@\"; } ;;
            btf) run() { s=\$1; shift; BPFTRACE_BTF=$stage/host-btf ./rbt \$s.bt \"\$@\"; } ;;
        esac
        echo \"== \$how\"
        run chain \$\$ 2>&1
        run exec -c /bin/true 2>&1
        run key > \$RBT_VM_DIR/key.txt 2>&1 & pid=\$!
        for i in \$(seq 1 120); do
            python3 $repo/tests/vm/keyboard.py 30
            grep -q '^key' \$RBT_VM_DIR/key.txt && break
            sleep 1
        done
        wait \$pid
        cat \$RBT_VM_DIR/key.txt
    done
    echo '== missing'
    ./rbt-run missing.rbt 2>&1 || echo \"status \$?\"")
printf "%s\n" "$out"

section() { printf "%s\n" "$out" | sed -n "/^== $1\$/,/^== /p" | grep -v '^=='; }
values() { printf "%s\n" "$1" | grep -e '^chain' -e '^cpus' -e '^exec' -e '^key'; }
guest=$(section guest)
host=$(section host)
btf=$(section btf)
guest_offset=$(printf "%s\n" "$guest" | sed -n 's/^offset //p')
host_offset=$(printf "%s\n" "$host" | sed -n 's/^offset //p')
[ -n "$guest_offset" ] && [ -n "$host_offset" ] || fail "no offsets printed"
# The proof needs layouts that differ: the host's offset is baked into the host's file.
[ "$guest_offset" != "$host_offset" ] ||
    fail "task_struct.real_parent is at $guest_offset in both kernels: nothing to relocate"
printf "%s\n" "$guest" | grep -q '^chain 1 1 1 1048576 rbt$' || fail "the guest-compiled chain read wrong values"
# The guest has one CPU, the host two: a compiled file reads ncpus where it runs.
printf "%s\n" "$guest" | grep -q '^cpus 1$' || fail "the guest-compiled ncpus should be the guest's 1 CPU"
printf "%s\n" "$guest" | grep -q '^exec /bin/true 1 1$' || fail "the guest-compiled tracepoint read wrong values"
printf "%s\n" "$guest" | grep -q '^key 30 rbt-vm keyboard 1234 5678 1$' || fail "the guest-compiled kprobe read wrong values"
[ "$(values "$host" | sed 's/ rbt-run$/ rbt/')" = "$(values "$guest")" ] ||
    fail "the host-compiled files (rbt-run) read other values than the guest-compiled scripts"
[ "$(values "$btf")" = "$(values "$guest")" ] ||
    fail "the scripts compiled against the host's BTF read other values than the guest-compiled ones"
printf "%s\n" "$out" | grep -q 'the running kernel has no struct task_struct.mm_cid' ||
    fail "a field the guest lacks is not named at load time"
printf "%s\n" "$out" | grep -q 'curtask->mm_cid' || fail "the missing field's script line is not shown"
echo "PASS: CO-RE (task_struct.real_parent at $host_offset on the host, $guest_offset in the guest)"
