"""Naming the channels a filter touches: ``channels="rgb"``, ``"a"``, ``"r,g"``."""

from __future__ import annotations

from convtool.errors import UsageError

# Channel letters by image mode. Greyscale images answer to r, g and b as well
# as l, so "rgb" means "the colour, not the alpha" for both.
_CHANNEL_INDEX = {
    "L": {"l": 0, "r": 0, "g": 0, "b": 0},
    "LA": {"l": 0, "r": 0, "g": 0, "b": 0, "a": 1},
    "RGB": {"r": 0, "g": 1, "b": 2},
    "RGBA": {"r": 0, "g": 1, "b": 2, "a": 3},
}
CHANNEL_LETTERS = "rgbal"


def parse_channels(channels: str | None) -> str | None:
    """Canonical form of a ``channels`` value: letters from r, g, b, a, l, or None for all.

    ``"rgb"``, ``"r,g,b"`` and ``"R G B"`` are the same; ``"all"`` is None.

    >>> parse_channels("R, G"), parse_channels("all")
    ('rg', None)
    """
    if channels is None:
        return None
    text = str(channels).strip().lower()
    if text in ("", "all"):
        return None
    letters = "".join(text.replace(",", " ").split())
    bad = [c for c in letters if c not in CHANNEL_LETTERS]
    if bad:
        msg = (f"channels {channels!r}: unknown channel {bad[0]!r}; use letters from "
               "r, g, b, a (colour) or l, a (greyscale), e.g. rgb, a or r,g")
        raise UsageError(msg, params=("channels",))
    return "".join(dict.fromkeys(letters))


def channel_indices(mode: str, channels: str | None, size: int) -> list[int]:
    """Indices of the pixel channels ``channels`` names in an image of ``mode``.

    >>> channel_indices("RGBA", "ar", 4)
    [0, 3]
    """
    if channels is None:
        return list(range(size))
    names = _CHANNEL_INDEX.get(mode.split(";")[0])  # RGB;16 and RGB;F name channels as RGB
    if names is None:
        msg = f"channels: images of mode {mode} have no named channels; leave it out"
        raise UsageError(msg, params=("channels",))
    missing = [c for c in channels if c not in names]
    if missing:
        msg = (f"channels {channels!r}: an image of mode {mode} has no {missing[0]!r} channel "
               f"(it has {', '.join(sorted(set(names)))})")
        raise UsageError(msg, params=("channels",))
    return sorted({names[c] for c in channels})
