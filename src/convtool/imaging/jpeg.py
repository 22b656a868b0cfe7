"""JPEG scan data that ends early: refused, though libjpeg only warns.

A JPEG whose entropy-coded data is cut short but still ends with an EOI
marker decodes "successfully": libjpeg warns ("premature end of data
segment") and fills the rest with grey, and Pillow ignores the warning.
To tell, the file is decoded a second time (both at 1/8 scale, which is
cheap) with filler bytes put before its final EOI. A complete scan never
reaches the filler (libjpeg skips bytes between a scan's end and the next
marker), so both decodes agree; a cut scan decodes the filler as data, so
they differ.
"""

from __future__ import annotations

#: Bytes put before the EOI: no 0xFF, so no marker, and not all zero bits.
FILLER = b"\x55\xaa" * 512
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01, 0xD8}  # RSTn, TEM, SOI: no length
_SOS, _EOI = 0xDA, 0xD9


def final_eoi(data: bytes) -> int | None:
    """Offset of the EOI marker that ends the image's last scan, or None.

    Walks the segments from SOI (so markers inside an EXIF thumbnail or after
    the image do not count); inside scan data a 0xFF is followed by 0x00 or an
    RSTn marker, so the next other marker ends the scan.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    pos, in_scan = 2, False
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x00 or marker in _STANDALONE:
            pos += 2
            continue
        if marker == _EOI:
            return pos if in_scan else None
        if pos + 3 >= len(data):
            return None
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        in_scan = marker == _SOS
        pos += 2 + length


def with_filler(data: bytes, eoi: int) -> bytes:
    """``data`` with :data:`FILLER` put just before the EOI at ``eoi``."""
    return data[:eoi] + FILLER + data[eoi:]
