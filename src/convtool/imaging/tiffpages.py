"""Multi-page TIFF written in time linear in the page count.

Pillow's appending writer walks the chain of every page written so far each
time it adds one (20,000 one-pixel pages: over 600 s). Here each page is
encoded on its own with Pillow's public ``save``, and the single-page files
are laid end to end: every offset inside a page is moved by where the page
lands, and each page's "next IFD" field is pointed at the following page.

Only classic TIFF with the offset-holding tags Pillow writes is handled;
anything else (BigTIFF, sub-IFDs such as an EXIF IFD) returns None and the
caller falls back to Pillow's writer.
"""

from __future__ import annotations

import io
import struct

from PIL import Image as PILImage

# Bytes per value of each TIFF field type (classic TIFF).
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
# Tags whose values are offsets into the file (strips, tiles, JPEG tables).
_OFFSET_TAGS = frozenset({273, 288, 324, 513, 519, 520, 521})
_LONG = 4


def _encode_page(pil: PILImage.Image, params: dict) -> bytes:
    buffer = io.BytesIO()
    pil.save(buffer, format="TIFF", **params)
    return buffer.getvalue()


def _relocate(page: bytearray, base: int) -> int | None:
    """Move every offset in a single-page TIFF by ``base``; return its next-IFD field's offset.

    None when the page holds something this does not relocate.
    """
    order = {b"II": "<", b"MM": ">"}.get(bytes(page[:2]))
    if order is None or struct.unpack(order + "H", page[2:4])[0] != 42:
        return None
    (ifd,) = struct.unpack(order + "I", page[4:8])
    (count,) = struct.unpack(order + "H", page[ifd:ifd + 2])
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, kind, n = struct.unpack(order + "HHI", page[entry:entry + 8])
        size = _TYPE_SIZES.get(kind)
        if size is None or kind == 13:
            return None  # an IFD pointer (EXIF, sub-IFD) or an unknown type
        field = entry + 8
        if size * n > 4:  # the value lives elsewhere: move the pointer
            (where,) = struct.unpack(order + "I", page[field:field + 4])
            page[field:field + 4] = struct.pack(order + "I", where + base)
            values_at = where
        else:
            values_at = field
        if tag in _OFFSET_TAGS:
            if kind != _LONG:
                return None
            for k in range(n):
                at = values_at + 4 * k
                (value,) = struct.unpack(order + "I", page[at:at + 4])
                page[at:at + 4] = struct.pack(order + "I", value + base)
    return ifd + 2 + 12 * count


def tiff_pages_bytes(pils: list[PILImage.Image], params: dict) -> bytes | None:
    """The multi-page TIFF of ``pils`` saved with ``params``, or None to use Pillow's writer."""
    params = {k: v for k, v in params.items()
              if k not in ("save_all", "append_images", "duration", "loop")}
    out = bytearray()
    previous_next = None
    order = None
    for pil in pils:
        if len(out) % 2:
            out.append(0)  # TIFF offsets are word-aligned
        base = len(out)
        page = bytearray(_encode_page(pil, params))
        page_order = "<" if page[:2] == b"II" else ">"
        if order is None:
            order = page_order
        (ifd,) = struct.unpack(page_order + "I", page[4:8])
        next_field = _relocate(page, base)
        if next_field is None or page_order != order or base + len(page) >= 2**32:
            return None
        if previous_next is not None:
            out[previous_next:previous_next + 4] = struct.pack(order + "I", base + ifd)
        out += page
        previous_next = base + next_field
    return bytes(out)
