"""tests/e2e/watch_write.py: maps a page at the fixed address 0x10000000 and writes one byte
there, for the e2e case that sets a watchpoint on that address in a `-c` command (rbt, like
bpftrace, splits `-c` at spaces without a shell, so the program lives in this file)."""
import ctypes

libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
# PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED
page = libc.mmap(ctypes.c_void_p(0x10000000), 4096, 3, 0x32, -1, 0)
ctypes.c_char.from_address(page).value = b"x"
