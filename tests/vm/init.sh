#!/bin/busybox sh
# tests/vm/init.sh — the /init of the VM test tier's initramfs (owned by tests/vm).
#
# It runs as PID 1 inside the guest (Debian 6.1 kernel under qemu), with only busybox and the kernel
# modules that tests/vm/mkinitramfs.py packed next to it. Its job: load those modules, mount the host's
# root (9p tag `hostroot`, read-only) at /host with fresh proc/sys/dev/tracefs/bpffs and tmpfs scratch
# dirs on top, mount the writable 9p tag `results` at the host path given as `rbt.dir=` on the kernel
# command line, run `$dir/.rbt-vm-cmd.sh` chrooted into /host with stdout/stderr on two virtio serial
# ports, write the exit status to `$dir/.rbt-vm-rc` and power the machine off.
# tests/vm/run.py writes the command file and reads the results; see tests/vm/README.md.

export PATH=/bin:/sbin

# Everything we print goes to the serial console, which run.py only shows with -v or on failure.
say() { echo "rbt-vm init: $*"; }
# Any failure ends the VM at once: run.py notices the missing exit status and shows the console.
die() { say "FATAL: $*"; sync; reboot -f; sleep 5; exit 1; }

/bin/busybox --install -s /bin

mount -t proc proc /proc || die "cannot mount /proc"
mount -t sysfs sysfs /sys || die "cannot mount /sys"
mount -t devtmpfs devtmpfs /dev || die "cannot mount /dev"

dir=
for word in $(cat /proc/cmdline); do
    case "$word" in
        rbt.dir=*) dir=${word#rbt.dir=} ;;
    esac
done
[ -n "$dir" ] || die "no rbt.dir= on the kernel command line"

# load.list is already in dependency order, but which module needs which changes between package
# versions, so a module that fails is retried after the others instead of trusting the order blindly.
moddir=/lib/modules/$(uname -r)
pending=$(cat "$moddir/load.list")
round=0
while [ -n "$pending" ] && [ $round -lt 10 ]; do
    left=
    for m in $pending; do
        insmod "$moddir/$m.ko" 2>/dev/null || left="$left $m"
    done
    pending=$left
    round=$((round + 1))
done
[ -z "$pending" ] || die "kernel modules would not load:$pending"

# The virtio-9p device shows up a little after its driver loads.
mount9p() {
    tries=0
    while ! mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000,$3" "$1" "$2" 2>/dev/null; do
        tries=$((tries + 1))
        [ $tries -lt 50 ] || die "cannot mount 9p tag $1 on $2"
        sleep 0.05
    done
}
mount9p hostroot /host ro,cache=loose

# Fresh kernel filesystems inside the chroot: the ones on the share belong to the host kernel.
R=/host
mount -t proc proc $R/proc || die "cannot mount $R/proc"
mount -t sysfs sysfs $R/sys || die "cannot mount $R/sys"
mount -t devtmpfs devtmpfs $R/dev || die "cannot mount $R/dev"
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t tracefs tracefs $R/sys/kernel/tracing || die "cannot mount tracefs"
mount -t debugfs debugfs $R/sys/kernel/debug || die "cannot mount debugfs"
mount -t bpf bpf $R/sys/fs/bpf || die "cannot mount bpffs"
# The shared root is read-only; programs expect these to be writable.
for d in /tmp /run /var/tmp; do
    [ -d $R$d ] && { mount -t tmpfs -o mode=1777 tmpfs $R$d || die "cannot mount tmpfs on $d"; }
done

# The results share sits at the same path as on the host, so paths can be passed around unchanged.
# Under /tmp it has to be created in the fresh tmpfs; elsewhere the host directory itself is the mountpoint.
mkdir -p "$R$dir" 2>/dev/null
mount9p results "$R$dir" rw,cache=none

ip link set lo up || die "cannot bring up loopback"
hostname rbt-vm

out=$(ls /dev/vport*p1 2>/dev/null | head -n 1)
err=$(ls /dev/vport*p2 2>/dev/null | head -n 1)
[ -c "$out" ] && [ -c "$err" ] || die "virtio serial ports for stdout/stderr not found"

# env -i: the command gets a known environment; run.py adds what the caller forwards in the command file.
chroot $R /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root TERM=dumb LANG=C.UTF-8 RBT_VM=1 RBT_VM_DIR="$dir" \
    /bin/sh "$dir/.rbt-vm-cmd.sh" <$R/dev/null >"$out" 2>"$err"
echo $? >"$R$dir/.rbt-vm-rc"
sync
reboot -f
