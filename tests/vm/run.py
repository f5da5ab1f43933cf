#!/usr/bin/env python3
"""tests/vm/run.py — runs one command inside the VM test tier's guest (owned by tests/vm).

    tests/vm/run.py [-v] [--timeout S] [--dir HOSTDIR] [--env NAME[=VALUE]]... -- CMD...

Boots Debian's 6.1 kernel (which has kprobes; the host kernel does not) under qemu/TCG with the
initramfs that tests/vm/setup.sh built, shares the host's root read-only, runs CMD chrooted into it
as root in the host's current directory, streams CMD's stdout and stderr back over two virtio serial
ports (never mixed with kernel console noise), and exits with CMD's exit status.

A writable host directory is shared at the same path inside the guest (a fresh /tmp/rbt-vm-* unless
--dir names one; $RBT_VM_DIR inside points at it), so tests can pass files in and out.
Exit status: CMD's, or 124 on timeout, 125 when the VM could not run CMD (the console is shown).
Stdlib only: this must work on a fresh CI machine after setup.sh.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("RBT_VM_CACHE", "/var/cache/rbt-vm")
EXIT_TIMEOUT = 124
EXIT_VM_FAILED = 125
# Forwarded into the guest without being asked for: they change how our own tools report.
DEFAULT_ENV_PREFIXES = ("RBT_", "RUST_")


def die(msg, code=EXIT_VM_FAILED):
    sys.stderr.write(f"rbt-vm: {msg}\n")
    sys.exit(code)


def find_images():
    """The kernel and initramfs of the cached kernel setup.sh chose."""
    current = os.path.join(CACHE, "current")
    # The uncompressed ELF boots via PVH and skips ~12 s of xz inflation under TCG; vmlinuz is the fallback.
    kernel = os.path.join(current, "vmlinux")
    if not os.path.exists(kernel):
        kernel = os.path.join(current, "vmlinuz")
    initrd = os.path.join(current, "initramfs.cpio")
    if not os.path.exists(kernel) or not os.path.exists(initrd):
        die(f"no VM kernel in {current}: run tests/vm/setup.sh (cache dir: $RBT_VM_CACHE or /var/cache/rbt-vm)")
    # A stale initramfs would run an old init.sh: say so instead of testing the wrong thing.
    newest_input = max(os.path.getmtime(os.path.join(HERE, f)) for f in ("init.sh", "mkinitramfs.py"))
    if os.path.getmtime(initrd) < newest_input:
        die(f"{initrd} is older than tests/vm/init.sh or mkinitramfs.py: run tests/vm/setup.sh")
    return kernel, initrd


def command_file(argv, cwd, env):
    """The script init.sh runs inside the chroot: environment, directory, then CMD itself."""
    lines = ["# written by tests/vm/run.py"]
    for name, value in env.items():
        lines.append(f"export {name}={shlex.quote(value)}")
    lines.append(f"cd {shlex.quote(cwd)} || {{ echo 'rbt-vm: cannot enter {shlex.quote(cwd)} inside the guest "
                 f"(directories under /tmp, /run and /var/tmp are fresh tmpfs there)' >&2; exit {EXIT_VM_FAILED}; }}")
    lines.append("exec " + " ".join(shlex.quote(a) for a in argv))
    return "\n".join(lines) + "\n"


class Tail:
    """Copies what qemu appends to a chardev file to one of our own streams, as it arrives."""

    def __init__(self, path, out):
        self.path, self.out, self.pos = path, out, 0

    def pump(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return
        if data:
            self.pos += len(data)
            self.out.write(data)
            self.out.flush()


def main():
    ap = argparse.ArgumentParser(usage="%(prog)s [-v] [--timeout S] [--dir HOSTDIR] [--env NAME[=VALUE]]... -- CMD...",
                                 description=__doc__.split("\n\n")[1])
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show the qemu command line, the kernel console and the run time on stderr")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds before qemu is killed and the run fails with 124 (default 300)")
    ap.add_argument("--dir", help="writable host directory to share at the same path (default: a fresh temp dir)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME[=VALUE]",
                    help="pass an environment variable into the guest (RBT_* and RUST_* always are)")
    ap.add_argument("--smp", type=int, default=1, help="guest CPUs (default 1: TCG boots fastest that way)")
    ap.add_argument("--mem", default="1G", help="guest memory (default 1G)")
    ap.add_argument("--append", default="", metavar="ARGS", help="extra kernel command line arguments")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command given (put it after --)")

    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        die("qemu-system-x86_64 not found: run tests/vm/setup.sh")
    kernel, initrd = find_images()

    env = {k: v for k, v in os.environ.items() if k.startswith(DEFAULT_ENV_PREFIXES)}
    for item in args.env:
        name, eq, value = item.partition("=")
        if not eq:
            if name not in os.environ:
                continue
            value = os.environ[name]
        env[name] = value

    # The shared directory is what the guest sees; qemu's own files (console, output) stay private.
    if args.dir:
        shared = os.path.realpath(args.dir)
        if not os.path.isdir(shared):
            die(f"--dir {args.dir}: not a directory")
        own_shared = False
    else:
        shared = tempfile.mkdtemp(prefix="rbt-vm-")
        own_shared = True
    if any(c.isspace() for c in shared):
        die(f"shared directory {shared!r} contains whitespace, which the kernel command line cannot carry")
    cmd_path = os.path.join(shared, ".rbt-vm-cmd.sh")
    rc_path = os.path.join(shared, ".rbt-vm-rc")
    if os.path.exists(rc_path):
        os.unlink(rc_path)
    with open(cmd_path, "w") as f:
        f.write(command_file(cmd, os.getcwd(), env))

    private = tempfile.mkdtemp(prefix="rbt-vm-qemu-")
    console = os.path.join(private, "console.log")
    out_file = os.path.join(private, "stdout")
    err_file = os.path.join(private, "stderr")
    append = ["console=ttyS0", "panic=-1", f"rbt.dir={shared}",
              # Nothing the tests need, and TCG pays for every mitigation on every syscall.
              "mitigations=off"]
    append += ["loglevel=7"] if args.verbose else ["quiet", "loglevel=0"]
    append += args.append.split()
    qcmd = [
        qemu, "-accel", "tcg", "-cpu", "max", "-m", args.mem, "-smp", str(args.smp),
        "-nographic", "-no-reboot",
        # No NIC and no VGA: their option ROMs and probing cost boot time and no test uses them.
        "-nic", "none", "-vga", "none",
        "-kernel", kernel, "-initrd", initrd, "-append", " ".join(append),
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={shared},mount_tag=results,security_model=passthrough,multidevs=remap",
        "-device", "virtio-serial-pci",
        "-chardev", f"file,id=rbtout,path={out_file}",
        "-device", "virtserialport,chardev=rbtout,nr=1,name=rbt.stdout",
        "-chardev", f"file,id=rbterr,path={err_file}",
        "-device", "virtserialport,chardev=rbterr,nr=2,name=rbt.stderr",
    ]
    if args.verbose:
        sys.stderr.write("rbt-vm: " + " ".join(shlex.quote(a) for a in qcmd) + "\n")

    try:
        return boot(args, qcmd, console, out_file, err_file, rc_path)
    finally:
        # Also on Ctrl-C: leave no control files in a caller's --dir and no temp dirs behind.
        shutil.rmtree(private, ignore_errors=True)
        for p in (cmd_path, rc_path):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        if own_shared:
            shutil.rmtree(shared, ignore_errors=True)


def boot(args, qcmd, console, out_file, err_file, rc_path):
    """Runs qemu to the end (or the timeout), streaming CMD's output; returns CMD's exit status."""
    tails = [Tail(out_file, sys.stdout.buffer), Tail(err_file, sys.stderr.buffer)]
    if args.verbose:
        tails.append(Tail(console, sys.stderr.buffer))
    start = time.monotonic()
    timed_out = False
    with open(console, "wb") as con:
        # stdin is /dev/null: with -nographic qemu's monitor listens there, and nothing may reach it.
        proc = subprocess.Popen(qcmd, stdin=subprocess.DEVNULL, stdout=con, stderr=subprocess.STDOUT)
        try:
            while proc.poll() is None:
                for t in tails:
                    t.pump()
                if time.monotonic() - start > args.timeout:
                    timed_out = True
                    break
                time.sleep(0.05)
        finally:
            # Timeout, Ctrl-C or any error here: never leave a qemu behind.
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for t in tails:
        t.pump()
    elapsed = time.monotonic() - start

    rc = None
    try:
        with open(rc_path) as f:
            rc = int(f.read().strip())
    except (FileNotFoundError, ValueError):
        pass

    def show_console():
        if args.verbose:
            return  # already shown as it came
        with open(console, "rb") as f:
            tail = f.read()[-4000:]
        sys.stderr.write("rbt-vm: last console output (rerun with -v for all of it):\n")
        sys.stderr.buffer.write(tail)
        sys.stderr.write("\n")
        sys.stderr.flush()

    if timed_out:
        show_console()
        die(f"timed out after {args.timeout:g} s; qemu killed", EXIT_TIMEOUT)
    if rc is None:
        show_console()
        die(f"the VM did not report an exit status (qemu exited with {proc.returncode})")
    if args.verbose:
        sys.stderr.write(f"rbt-vm: command exited with {rc}; whole VM run took {elapsed:.1f} s\n")
    return rc

if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # qemu is already gone (boot's finally); 130 is what a shell reports for SIGINT.
        sys.exit(130)
