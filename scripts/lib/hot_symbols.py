"""Prints the names of the functions on the pages of a process's code that are in memory.

    python3 scripts/lib/hot_symbols.py PID

Called by scripts/hot-symbols.sh on processes it has started and exercised with the disk's
readahead off and the binary out of the page cache, so that a page is in memory only when the
process has run code on it. Names come in address order (the order the code had, which keeps
what calls what together), mangled, as the linker's --symbol-ordering-file wants them. A page
is 4 KiB of a function that can be smaller, so the list holds the touched functions and their
neighbours on the same pages; a second pass, on binaries linked in the first pass's order,
leaves a few fewer (nearly every page of the packed code is touched).
"""

import bisect
import os
import struct
import subprocess
import sys

PAGE = 4096


def mappings(pid, exe):
    """(start, end, file offset, permissions) of each mapping of the executable."""
    found = []
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.rstrip("\n").split(maxsplit=5)
            if len(fields) == 6 and fields[5] == exe:
                start, end = (int(x, 16) for x in fields[0].split("-"))
                found.append((start, end, int(fields[2], 16), fields[1]))
    return found


def main():
    pid = int(sys.argv[1])
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except FileNotFoundError:
        sys.exit(f"no process {pid}")
    with open(exe, "rb") as elf:
        header = elf.read(18)
    # e_type 3 (ET_DYN): a position-independent executable, linked at address 0.
    if header[:4] != b"\x7fELF" or int.from_bytes(header[16:18], "little") != 3:
        sys.exit(f"{exe} is not a position-independent ELF executable")
    mapped = mappings(pid, exe)
    # Where the executable was loaded: `nm` gives link addresses, which in a
    # position-independent executable are the mapping's addresses less the
    # address of its first page (file offset 0, link address 0). The text's
    # own mapping will not do: lld links it a page above its file offset.
    headers = [start for start, _, offset, _ in mapped if offset == 0]
    segments = [(start, end) for start, end, _, perms in mapped if "x" in perms]
    if not headers or not segments:
        sys.exit(f"{exe} has no mapping of its first page or of its code in process {pid}")
    load_bias = headers[0]
    present = []
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for start, end in segments:
            pages = (end - start) // PAGE
            pagemap.seek(start // PAGE * 8)
            entries = pagemap.read(pages * 8)
            for i in range(pages):
                if struct.unpack_from("<Q", entries, i * 8)[0] >> 63:
                    present.append(start - load_bias + i * PAGE)
    symbols = []
    nm = subprocess.run(
        ["nm", "-S", "--defined-only", exe], capture_output=True, text=True, check=True
    )
    for line in nm.stdout.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tT":
            symbols.append((int(fields[0], 16), int(fields[1], 16), fields[3]))
    symbols.sort()
    out = sys.stdout
    for address, size, name in symbols:
        first = bisect.bisect_left(present, address - address % PAGE)
        if first < len(present) and present[first] < address + max(size, 1):
            out.write(name + "\n")


if __name__ == "__main__":
    main()
