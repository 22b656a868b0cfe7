"""Images: Pillow <-> float arrays, modes, bit depth, alpha, colour, metadata, safe writes.

Pixels travel as arrays of shape ``(H, W, C)``. How values are scaled depends
on the image's mode:

=========================  ===========  ==========================================
mode read                  ``mode``     pixels
=========================  ===========  ==========================================
L, LA, RGB, RGBA, CMYK     the same     float32, 8-bit values / 255 (0..1)
P (palette)                RGB / RGBA   float32 0..1; written as RGB/RGBA, or
                                        requantised to P with ``keep_palette``
1 (bilevel)                L            float32 0..1; written as L, or thresholded
                                        back to 1 with ``keep_palette``
I;16, I;16B, ... (16-bit)  I;16         float32, 16-bit values / 65535 (0..1)
I (32-bit integer)         I            float64, raw values (float64 holds every
                                        32-bit integer exactly)
F (32-bit float)           F            float32, raw values (negative, > 1, ...)
RGB/RGBA/LA, 16 bits       RGB;16,      float32, 16-bit values / 65535 (0..1)
per channel (PNG, TIFF)    RGBA;16,
                           LA;16
float RGB (TIFF)           RGB;F        float32, raw values
=========================  ===========  ==========================================

So options on the 0..1 scale (``cval``, a bias) mean the same at 8 and 16 bits.
Writing scales back, rounds to nearest and clips to the type's range; float
images stay float. Pillow holds colour with 8 bits per channel only: the last
three rows are read and written by :mod:`~convtool.imaging.deep` (libpng and
tifffile, the optional ``16bit`` extra), never silently reduced to 8 bits.

Alpha (:data:`ALPHA_MODES`) and linear light are pixel operations applied
around a convolution by :func:`filter_space` and :func:`image_space`.

Writes are atomic (a temporary file in the target folder, renamed when
complete); ``"-"`` reads stdin or writes stdout.

Where things live (every public name is also importable from here, lazily):

==================  ==========================================================
module              job
==================  ==========================================================
``choices``         closed sets of choices: alpha modes, format extensions,
                    temporary-file names (no numpy, no Pillow)
``model``           :class:`Image`, :class:`SaveOptions`, the table of modes
``read``            :func:`read_image`: decoding, stdin, the pixel limit
``formats``         :func:`output_format`, :func:`extension_for`,
                    :func:`check_output`, :func:`readable_extensions`
``write``           :func:`write_image`, :func:`encode_image`, :func:`to_pil`:
                    encoding, temporary files, atomic publish
``colour``          premultiply, sRGB <-> linear, :func:`filter_space`,
                    :func:`image_space`, :func:`normalize_alpha`
``metadata``        ICC, EXIF, DPI, XMP, text and animation carried along;
                    :func:`written_by_convtool` (the Software mark)
``encoder``         the input's encoder settings kept: JPEG tables, TIFF
                    compression
``convert``         ``--background`` (flatten alpha), ``--depth 8``
``deep``            16-bit colour and float RGB, beside Pillow; through
``png16``           (libpng, via imagecodecs) and ``tiff`` (tifffile)
``_codecs``         importing those optional codecs; keeping C libraries'
                    own messages off stderr
``_pillow_compat``  every use of Pillow's private API
==================  ==========================================================
"""

from __future__ import annotations

from convtool._lazy import lazy_attributes

# The errors were importable from the old single module; kept for callers that did.
from convtool.errors import ImageReadError, ImageWriteError, UsageError

_EXPORTS = {
    "AlphaMode": "convtool.imaging.choices",
    "ALPHA_MODES": "convtool.imaging.choices",
    "DEFAULT_COMPRESS_LEVEL": "convtool.imaging.choices",
    "STDIO": "convtool.imaging.choices",
    "FORMAT_EXTENSIONS": "convtool.imaging.choices",
    "FORMAT_ALIASES": "convtool.imaging.choices",
    "QUALITY_FORMATS": "convtool.imaging.choices",
    "TIFF_COMPRESSIONS": "convtool.imaging.choices",
    "DEPTHS": "convtool.imaging.choices",
    "DEEP_MODES": "convtool.imaging.model",
    "TEMP_PREFIX": "convtool.imaging.choices",
    "TEMP_SUFFIX": "convtool.imaging.choices",
    "TEMP_PATTERN": "convtool.imaging.choices",
    "Image": "convtool.imaging.model",
    "SaveOptions": "convtool.imaging.model",
    "read_image": "convtool.imaging.read",
    "output_format": "convtool.imaging.formats",
    "readable_extensions": "convtool.imaging.formats",
    "extension_for": "convtool.imaging.formats",
    "check_output": "convtool.imaging.formats",
    "write_image": "convtool.imaging.write",
    "written_by_convtool": "convtool.imaging.metadata",
    "encode_image": "convtool.imaging.write",
    "to_pil": "convtool.imaging.write",
    "srgb_to_linear": "convtool.imaging.colour",
    "linear_to_srgb": "convtool.imaging.colour",
    "premultiply": "convtool.imaging.colour",
    "unpremultiply": "convtool.imaging.colour",
    "normalize_alpha": "convtool.imaging.colour",
    "filter_space": "convtool.imaging.colour",
    "image_space": "convtool.imaging.colour",
}

__all__ = ["ImageReadError", "ImageWriteError", "UsageError", *_EXPORTS]

__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, __all__)
