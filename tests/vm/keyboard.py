#!/usr/bin/env python3
"""tests/vm/keyboard.py — presses keys on a virtual keyboard, for kprobe tests in the VM (owned by tests/vm).

    keyboard.py [--delay S] [--settle S] KEYCODE...

Creates a keyboard through /dev/uinput, presses and releases each key code in order (EV_KEY value 1,
EV_SYN, EV_KEY value 0, EV_SYN), then destroys the device. Every write goes through the kernel's
input_event(dev, type, code, value), so a probe on it sees type 1 (EV_KEY), the code and 1 then 0.
Key codes are the kernel's (linux/input-event-codes.h): KEY_A = 30, KEY_S = 31, KEY_ENTER = 28.
Stdlib only (ctypes-free: struct + fcntl), because it runs inside the guest from the host's python3.
"""

import argparse
import fcntl
import os
import struct
import sys
import time

# ioctl numbers from linux/uinput.h, spelled out: _IOW('U', nr, size) = 1<<30 | size<<16 | 'U'<<8 | nr.
def _iow(nr, size):
    return (1 << 30) | (size << 16) | (ord("U") << 8) | nr


def _io(nr):
    return (ord("U") << 8) | nr


UINPUT_MAX_NAME_SIZE = 80
# struct uinput_setup { struct input_id { u16 bustype, vendor, product, version; }; char name[80]; u32 ff_effects_max; }
UINPUT_SETUP = struct.Struct(f"HHHH{UINPUT_MAX_NAME_SIZE}sI")
UI_DEV_CREATE = _io(1)
UI_DEV_DESTROY = _io(2)
UI_DEV_SETUP = _iow(3, UINPUT_SETUP.size)
UI_SET_EVBIT = _iow(100, 4)
UI_SET_KEYBIT = _iow(101, 4)

EV_SYN, EV_KEY = 0, 1
SYN_REPORT = 0
BUS_VIRTUAL = 0x06
# struct input_event on 64-bit: struct timeval (two longs, ignored on write), u16 type, u16 code, s32 value.
INPUT_EVENT = struct.Struct("llHHi")


def emit(fd, etype, code, value):
    os.write(fd, INPUT_EVENT.pack(0, 0, etype, code, value))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    ap.add_argument("--delay", type=float, default=0.05, help="seconds between events (default 0.05)")
    ap.add_argument("--settle", type=float, default=0.2,
                    help="seconds to wait after creating the device, before the first key (default 0.2)")
    ap.add_argument("keys", nargs="+", type=int, metavar="KEYCODE")
    args = ap.parse_args()
    bad = [k for k in args.keys if not 0 < k < 0x300]
    if bad:
        ap.error(f"not a key code (1..767): {bad}")

    try:
        fd = os.open("/dev/uinput", os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        sys.exit(f"keyboard.py: cannot open /dev/uinput ({e.strerror}): needs root and the uinput module")
    try:
        fcntl.ioctl(fd, UI_SET_EVBIT, EV_KEY)
        for key in sorted(set(args.keys)):
            fcntl.ioctl(fd, UI_SET_KEYBIT, key)
        setup = UINPUT_SETUP.pack(BUS_VIRTUAL, 0x1234, 0x5678, 1, b"rbt-vm keyboard", 0)
        fcntl.ioctl(fd, UI_DEV_SETUP, setup)
        fcntl.ioctl(fd, UI_DEV_CREATE)
        # Give the input core time to register the device (and any listener time to notice it).
        time.sleep(args.settle)
        for key in args.keys:
            for value in (1, 0):
                emit(fd, EV_KEY, key, value)
                emit(fd, EV_SYN, SYN_REPORT, 0)
                time.sleep(args.delay)
        fcntl.ioctl(fd, UI_DEV_DESTROY)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
