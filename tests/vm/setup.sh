#!/bin/sh
# tests/vm/setup.sh — prepares the VM test tier (owned by tests/vm). Idempotent; run as root.
#
# 1. Installs what the tier needs and is missing: qemu-system-x86 (the VM), busybox-static (the
#    initramfs userland), iproute2 (`ip` for the veth fixture, run from the shared host root), python3.
# 2. Fetches Debian's linux-image-6.1.0-*-amd64 (the host kernel has no kprobes; this one does)
#    into the cache, once: $RBT_VM_CACHE, default /var/cache/rbt-vm. `current` points at the kernel in use.
# 3. Builds the initramfs (tests/vm/mkinitramfs.py) whenever init.sh or mkinitramfs.py changed.
#
# Environment: RBT_VM_CACHE (cache dir), RBT_VM_KERNEL_PKG (force a package, e.g. linux-image-6.1.0-57-amd64),
# RBT_VM_REFRESH=1 (look for a newer kernel package even if one is cached).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${RBT_VM_CACHE:-/var/cache/rbt-vm}

say() { echo "rbt-vm setup: $*"; }
die() { echo "rbt-vm setup: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and writes $cache)"
command -v apt-get >/dev/null || die "apt-get not found: the VM tier needs a Debian-like host"

# --- packages -----------------------------------------------------------------------------------
updated=
apt_update() {
    [ -n "$updated" ] && return 0
    say "apt-get update"
    apt-get update -qq || die "apt-get update failed"
    updated=1
}
missing=
for pkg in qemu-system-x86 busybox-static iproute2 python3; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    apt_update
    say "installing$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
        || die "apt-get install$missing failed"
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 still not found after installing qemu-system-x86"
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox not found after installing busybox-static"
# A dynamically linked busybox would find no libc in the initramfs.
if command -v file >/dev/null && ! file -L "$busybox" | grep -q "statically linked"; then
    die "$busybox is not statically linked: install busybox-static (not busybox)"
fi

# --- kernel ---------------------------------------------------------------------------------------
mkdir -p "$cache"

# The package bookworm's meta package linux-image-amd64 points at; else the newest 6.1 apt knows.
pick_kernel_pkg() {
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n 1)
    if [ -z "$pkg" ]; then
        pkg=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null \
            | grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -n 1)
    fi
    echo "$pkg"
}

pkg=${RBT_VM_KERNEL_PKG:-}
if [ -z "$pkg" ] && [ -e "$cache/current/vmlinux" ] && [ -z "${RBT_VM_REFRESH:-}" ]; then
    pkg=$(basename "$(readlink -f "$cache/current")")
fi
if [ -z "$pkg" ]; then
    pkg=$(pick_kernel_pkg)
    if [ -z "$pkg" ]; then
        apt_update
        pkg=$(pick_kernel_pkg)
    fi
    [ -n "$pkg" ] || die "apt knows no linux-image-6.1.0-*-amd64 package (is bookworm in the apt sources?)"
fi

kdir=$cache/$pkg
# A cache from before vmlinux was unpacked only needs that step, not a new download.
if [ -e "$kdir/vmlinuz" ] && [ -d "$kdir/root" ] && [ ! -e "$kdir/vmlinux" ]; then
    python3 "$here/extract_vmlinux.py" "$kdir/vmlinuz" "$kdir/vmlinux" || die "cannot unpack vmlinux in $kdir"
fi
if [ ! -e "$kdir/vmlinux" ]; then
    say "fetching $pkg"
    work=$(mktemp -d "$cache/.fetch.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    # apt-get download drops privileges to _apt; a directory it can write avoids a warning.
    chmod 755 "$work"
    if ! (cd "$work" && apt-get download -qq "$pkg" 2>/dev/null); then
        apt_update
        (cd "$work" && apt-get download -qq "$pkg") || die "apt-get download $pkg failed"
    fi
    dpkg-deb -x "$work"/"$pkg"_*.deb "$work/root" || die "dpkg-deb -x failed for $pkg"
    grep -q '^CONFIG_KPROBES=y' "$work"/root/boot/config-* || die "$pkg has no CONFIG_KPROBES=y"
    cp "$work"/root/boot/vmlinuz-* "$work/vmlinuz"
    # The uncompressed ELF boots via PVH and saves ~12 s of xz inflation under TCG on every run.
    python3 "$here/extract_vmlinux.py" "$work/vmlinuz" "$work/vmlinux" || die "cannot unpack vmlinux from $pkg"
    rm -f "$work"/*.deb
    rm -rf "$kdir"
    mv "$work" "$kdir"
    trap - EXIT
fi
ln -sfn "$pkg" "$cache/current"

# --- initramfs ------------------------------------------------------------------------------------
initrd=$kdir/initramfs.cpio
if [ ! -e "$initrd" ] || [ "$here/init.sh" -nt "$initrd" ] || [ "$here/mkinitramfs.py" -nt "$initrd" ] \
    || [ "$busybox" -nt "$initrd" ]; then
    python3 "$here/mkinitramfs.py" --kernel-root "$kdir/root" --busybox "$busybox" \
        --init "$here/init.sh" --out "$initrd"
fi

say "ready: kernel $kdir/vmlinux, initramfs $initrd"
say "try: tests/vm/run.py -- uname -r"
