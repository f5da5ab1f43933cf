#!/usr/bin/env python3
"""tests/vm/mkinitramfs.py — builds the VM test tier's initramfs (owned by tests/vm).

The image holds busybox, tests/vm/init.sh as /init, and the kernel modules the guest needs to reach
the host's files over virtio-9p (plus veth and uinput for the tests), taken from the unpacked Debian
kernel package. The package carries no modules.dep (depmod runs at install time), so dependencies
come from each module's own `.modinfo` `depends=` field. Stdlib only, and it writes the newc cpio
itself so that no `cpio` binary or root-only mknod is needed.

usage: mkinitramfs.py --kernel-root DIR --busybox PATH --init PATH --out FILE.cpio [MODULE...]
"""

import argparse
import os
import struct
import sys

# What the guest needs, by name; dependencies are added automatically.
DEFAULT_MODULES = [
    # virtio transport and the 9p filesystem that carries the host's root and the results directory
    "virtio", "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
    "9pnet", "9pnet_virtio", "netfs", "fscache", "9p",
    # the dedicated stdout/stderr channel back to the host (virtio serial ports)
    "virtio_console",
    # test fixtures: veth pairs for arp_create, /dev/uinput for key presses
    "veth", "uinput",
]


def fail(msg):
    sys.exit(f"mkinitramfs: {msg}")


def modinfo_depends(path):
    """The `depends=` list from the ELF `.modinfo` section of a .ko file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        fail(f"{path}: not a 64-bit ELF module (compressed modules are not handled)")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(i):
        base = shoff + i * shentsize
        name, = struct.unpack_from("<I", data, base)
        off, size = struct.unpack_from("<QQ", data, base + 0x18)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        end = data.index(b"\0", stroff + name)
        if data[stroff + name:end] == b".modinfo":
            for entry in data[off:off + size].split(b"\0"):
                if entry.startswith(b"depends="):
                    deps = entry[len(b"depends="):].decode()
                    return [d for d in deps.split(",") if d]
            return []
    return []


def index_modules(moddir):
    """Module name -> path relative to moddir. Names use '_' (the kernel treats '-' the same)."""
    found = {}
    for root, _, files in os.walk(os.path.join(moddir, "kernel")):
        for fn in files:
            if fn.endswith(".ko"):
                found[fn[:-3].replace("-", "_")] = os.path.relpath(os.path.join(root, fn), moddir)
    return found


def builtin_modules(moddir):
    names = set()
    try:
        with open(os.path.join(moddir, "modules.builtin")) as f:
            for line in f:
                names.add(os.path.basename(line.strip())[:-3].replace("-", "_"))
    except FileNotFoundError:
        pass
    return names


def load_order(wanted, moddir):
    """Dependencies first (depth-first post-order), built-in modules dropped."""
    index = index_modules(moddir)
    builtin = builtin_modules(moddir)
    order, seen = [], set()

    def visit(name, chain):
        name = name.replace("-", "_")
        if name in seen:
            return
        seen.add(name)
        if name not in index:
            if name in builtin:
                return
            fail(f"module {name} (needed by {' <- '.join(chain) or 'the VM'}) is not in {moddir}")
        for dep in modinfo_depends(os.path.join(moddir, index[name])):
            visit(dep, [name] + chain)
        order.append(name)

    for name in wanted:
        visit(name, [])
    return [(name, index[name]) for name in order]


class Cpio:
    """A newc ("070701") archive writer: enough for regular files, directories and device nodes."""

    def __init__(self):
        self.parts = []
        self.ino = 1

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        namez = name.encode() + b"\0"
        header = "070701" + "".join(f"{v:08X}" for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(namez), 0))
        self.ino += 1
        blob = header.encode() + namez
        blob += b"\0" * (-len(blob) % 4)
        blob += data
        blob += b"\0" * (-len(blob) % 4)
        self.parts.append(blob)

    def dir(self, name):
        self._entry(name, 0o040755)

    def file(self, name, data, mode=0o644):
        self._entry(name, 0o100000 | mode, data)

    def chardev(self, name, major, minor, mode=0o600):
        self._entry(name, 0o020000 | mode, rdev=(major, minor))

    def bytes(self):
        self._entry("TRAILER!!!", 0)
        return b"".join(self.parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel-root", required=True, help="the unpacked linux-image package")
    ap.add_argument("--busybox", required=True, help="a statically linked busybox")
    ap.add_argument("--init", required=True, help="the /init script")
    ap.add_argument("--out", required=True)
    ap.add_argument("modules", nargs="*", default=DEFAULT_MODULES)
    args = ap.parse_args()

    kversions = sorted(os.listdir(os.path.join(args.kernel_root, "lib/modules")))
    if len(kversions) != 1:
        fail(f"expected one kernel version under {args.kernel_root}/lib/modules, found {kversions}")
    kver = kversions[0]
    moddir = os.path.join(args.kernel_root, "lib/modules", kver)
    order = load_order(args.modules, moddir)

    c = Cpio()
    for d in ["bin", "sbin", "dev", "proc", "sys", "host", "tmp", "lib", "lib/modules",
              f"lib/modules/{kver}"]:
        c.dir(d)
    # The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
    c.chardev("dev/console", 5, 1)
    with open(args.busybox, "rb") as f:
        c.file("bin/busybox", f.read(), 0o755)
    with open(args.init, "rb") as f:
        c.file("init", f.read(), 0o755)
    for name, rel in order:
        with open(os.path.join(moddir, rel), "rb") as f:
            c.file(f"lib/modules/{kver}/{name}.ko", f.read())
    c.file(f"lib/modules/{kver}/load.list", ("\n".join(n for n, _ in order) + "\n").encode())

    tmp = args.out + ".tmp"
    # Uncompressed on purpose: a few MB more through fw_cfg is cheaper than inflating them under TCG.
    with open(tmp, "wb") as f:
        f.write(c.bytes())
    os.replace(tmp, args.out)
    print(f"mkinitramfs: {args.out}: kernel {kver}, modules in load order: "
          + " ".join(n for n, _ in order))


if __name__ == "__main__":
    main()
