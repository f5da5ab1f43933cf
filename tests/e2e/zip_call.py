"""tests/e2e/zip_call.py: for the e2e test of uprobes on a member of a zip archive.

`zip_call.py make ZIP ELF` stores ELF uncompressed in ZIP as `bin/target`.
`zip_call.py call ZIP FUNC A B` maps ZIP executable, finds FUNC (a `long f(long, long)`
without relocations) in the member through its ELF symbol table and program headers, and calls
it with A and B: the code runs from the archive file's pages, where a uprobe on
`ZIP!/bin/target:FUNC` sits."""
import ctypes
import mmap
import struct
import sys
import zipfile

MEMBER = "bin/target"


def member_start(data, info):
    """The offset of the member's bytes: after its local header, name and extra field."""
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    return info.header_offset + 30 + name_len + extra_len


def function_offset(elf, func):
    """The file offset of FUNC in the ELF64 image `elf`."""
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    for sh in sections:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sh[6]]
        for at in range(sh[4], sh[4] + sh[5], 24):
            name, _, _, _, value, _ = struct.unpack_from("<IBBHQQ", elf, at)
            start = strtab[4] + name
            if elf[start:elf.index(b"\0", start)] == func.encode():
                vaddr = value
                break
        else:
            continue
        break
    else:
        sys.exit(f"{func} not found")
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        ptype, _, offset, pvaddr, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", elf, phoff + i * phentsize)
        if ptype == 1 and pvaddr <= vaddr < pvaddr + filesz:
            return vaddr - pvaddr + offset
    sys.exit(f"{func} is in no loadable segment")


def main():
    if sys.argv[1] == "make":
        with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_STORED) as z:
            z.write(sys.argv[3], MEMBER)
        return
    path, func, a, b = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    with open(path, "rb") as f:
        data = f.read()
    with zipfile.ZipFile(path) as z:
        start = member_start(data, z.getinfo(MEMBER))
    offset = start + function_offset(data[start:], func)
    libc = ctypes.CDLL(None)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    with open(path, "rb") as f:
        base = libc.mmap(None, len(data), mmap.PROT_READ | mmap.PROT_EXEC, mmap.MAP_PRIVATE, f.fileno(), 0)
        call = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_long, ctypes.c_long)(base + offset)
        # On stderr: on stdout it could land inside rbt's line (`107` + `7 100 …`).
        print(call(a, b), file=sys.stderr)


main()
