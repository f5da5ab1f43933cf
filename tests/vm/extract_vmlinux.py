#!/usr/bin/env python3
"""tests/vm/extract_vmlinux.py — unpacks the ELF vmlinux from a Debian bzImage (owned by tests/vm).

Why: under TCG the bzImage's own xz decompressor takes about 12 s of a ~20 s VM run. Debian's kernel
has CONFIG_PVH=y, so qemu can boot the uncompressed ELF directly (PVH entry note) and skip that work.
Like the kernel's scripts/extract-vmlinux: find the compressed payload by its magic, inflate it, and
keep the result only if it is an ELF file. Stdlib only.

usage: extract_vmlinux.py BZIMAGE OUT
"""

import lzma
import os
import sys
import zlib

# (magic, inflate-one-stream) per compressor Debian has used; trailing bytes after the stream are ignored.
def _xz(data):
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)


def _gzip(data):
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)


FORMATS = [(b"\xfd7zXZ\x00", _xz), (b"\x1f\x8b\x08", _gzip)]


def extract(image):
    for magic, inflate in FORMATS:
        pos = image.find(magic)
        while pos != -1:
            try:
                out = inflate(image[pos:])
            except (lzma.LZMAError, zlib.error, EOFError):
                out = b""
            if out[:4] == b"\x7fELF":
                return out
            pos = image.find(magic, pos + 1)
    return None


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    src, dst = sys.argv[1:]
    with open(src, "rb") as f:
        elf = extract(f.read())
    if elf is None:
        sys.exit(f"extract_vmlinux: no xz or gzip compressed ELF kernel found in {src}")
    with open(dst + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(dst + ".tmp", dst)


if __name__ == "__main__":
    main()
