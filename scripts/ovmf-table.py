#!/usr/bin/env python3
"""Print an entry of an OVMF image's footer GUID table.

usage: ovmf-table.py FIRMWARE GUID
  prints the entry's data as two u32 (base, size) in hex, the layout of
  the SEV secret area and kernel hashes area entries.
"""
import struct
import sys
import uuid

FOOTER_GUID = uuid.UUID("96b582de-1fb2-45f7-baea-a366c55a082d").bytes_le


def entries(image):
    # The table ends 32 bytes before the end of the image (reset vector),
    # with the footer: u16 total length, footer GUID.
    end = len(image) - 32
    if image[end - 16:end] != FOOTER_GUID:
        raise ValueError("no OVMF footer table")
    total = struct.unpack_from("<H", image, end - 18)[0]
    start = end - total
    pos = end - 18
    while pos > start:
        guid = image[pos - 16:pos]
        size = struct.unpack_from("<H", image, pos - 18)[0]
        yield uuid.UUID(bytes_le=guid), image[pos - size:pos - 18]
        pos -= size


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    with open(argv[1], "rb") as f:
        image = f.read()
    want = uuid.UUID(argv[2])
    for guid, data in entries(image):
        if guid == want:
            base, size = struct.unpack_from("<II", data)
            print("0x%x 0x%x" % (base, size))
            return 0
    sys.exit("%s: no entry %s" % (argv[1], want))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
