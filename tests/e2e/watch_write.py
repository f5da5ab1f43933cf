"""tests/e2e/watch_write.py [WRITES [PAUSE]]: maps a page at the fixed address 0x10000000 and
writes one byte there WRITES times (default 1), PAUSE seconds apart (default 0.3), for the e2e
cases that set a watchpoint on that address in a `-c` command (rbt, like bpftrace, splits `-c`
at spaces without a shell, so the program lives in this file)."""
import ctypes
import sys
import time

writes = int(sys.argv[1]) if len(sys.argv) > 1 else 1
pause = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
# PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED
page = libc.mmap(ctypes.c_void_p(0x10000000), 4096, 3, 0x32, -1, 0)
for i in range(writes):
    if i:
        time.sleep(pause)
    ctypes.c_char.from_address(page).value = b"x"
