"""Option declarations: every option the filtering commands share, as one settings object.

:class:`Settings` is a frozen dataclass whose fields are the shared options,
each declared with its typer option; :func:`convtool.cli.commands.filter_command`
gives every filtering command these fields as options and hands the command one
:class:`Settings`. The field names are the library's parameter names, so
:func:`flag_for` maps a library error's parameter back to its flag.

Nothing here imports numpy or Pillow: ``convtool --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from typing import Annotated

import typer

from convtool.cli.completion import (
    complete_alpha,
    complete_compression,
    complete_format,
    complete_method,
    complete_mode,
    complete_normalize,
)
from convtool.cli.help import BATCH, ENGINE, IMAGE, KERNEL, OTHER, SCALE, choices_metavar
from convtool.engine.modes import METHOD_TABLE, METHODS, MODES, mode_help
from convtool.imaging.choices import ALPHA_MODES, DEPTHS, TIFF_COMPRESSIONS
from convtool.kernels.choices import NORMALIZE_CHOICES

OUTPUT = IMAGE


def number(value) -> float:
    """Parse a number option, naming what was read when it is not one."""
    if value is None or isinstance(value, float | int):
        return value
    try:
        return float(value)
    except ValueError:
        msg = f"{value!r} is not a number"
        raise typer.BadParameter(msg) from None


def whole_number(value) -> int:
    """Parse a whole-number option, naming what was read when it is not one."""
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value)
    except ValueError:
        msg = f"{value!r} is not a whole number"
        raise typer.BadParameter(msg) from None



def one_of(choices) -> str:
    """``"a | b | c"``: a closed set of choices, as the help lists it.

    >>> one_of(("auto", "sum", "none"))
    'auto | sum | none'
    """
    return " | ".join(choices)


# Every closed set of choices comes from its library source, read from the
# numpy-free choices modules so that `convtool --help` stays light.
MODE_HELP = mode_help(cval="--cval")
METHOD_HELP = "; ".join(f"{name}: {what}" for name, what in METHOD_TABLE) + "."

SPEC_HELP = (
    "Kernel spec: a name such as gaussian:2, gaussian:3x1, mean:7x3, sobel-x, "
    "laplacian:8, disk:3, motion:length=9,angle=30, log:2 (list: convtool kernels); "
    "an inline matrix '1 2 1; 2 4 2; 1 2 1' (rows split by ';'); or a file "
    "(@path or a path: text, CSV, .npy, libvips .mat). Sizes are WIDTHxHEIGHT, as "
    "image sizes (the Python API takes (height, width), as numpy)."
)

PathsArg = Annotated[list[str], typer.Argument(
    help="INPUT OUTPUT: the image to read and the file to write; the output's extension "
         "(.png, .jpg, .tif, .webp, ...) sets its format; '-' reads stdin / writes stdout. "
         "With --out-dir: any number of input files, folders and glob patterns.",
    show_default=False, metavar="INPUT OUTPUT | INPUTS... --out-dir DIR")]


def _check_cval(value: float) -> float:
    # The range depends on the image (0..1 for integer images, raw values for
    # I and F), so apply_job checks it; only NaN and infinity are refused here.
    if not math.isfinite(value):
        msg = f"{value} is not a finite number"
        raise typer.BadParameter(msg)
    return value


@dataclasses.dataclass(frozen=True)
class Settings:
    """The options every filtering command shares, parsed once."""

    # Engine: how the convolution runs.
    mode: Annotated[str, typer.Option(
        "--mode", help=MODE_HELP, metavar=choices_metavar(MODES), autocompletion=complete_mode,
        rich_help_panel=ENGINE)] = "reflect"
    cval: Annotated[float, typer.Option(
        "--cval", help="Value outside the image for --mode constant: on the 0..1 scale for "
                       "8- and 16-bit images (0 is black, 1 is white), in raw values for 32-bit "
                       "I and F images.",
        parser=number, metavar="V", callback=_check_cval, rich_help_panel=ENGINE)] = 0.0
    method: Annotated[str, typer.Option(
        "--method", help=METHOD_HELP,
        metavar=choices_metavar(METHODS), autocompletion=complete_method,
        rich_help_panel=ENGINE)] = "auto"

    # Kernel adjustments (kernel_job's normalize, scale, correlate, absolute) and
    # what the response is added to and applied to.
    normalize: Annotated[str, typer.Option(
        "--normalize", help=f"{one_of(NORMALIZE_CHOICES)}. "
        "auto: divide the kernel by its sum unless it sums to 0 (edge "
        "detectors are left alone); sum: always divide (a zero-sum kernel is an error); "
        "none (default): use the weights exactly as given, as ImageMagick, libvips, OpenCV "
        "and scipy do with user kernels. Built-in smoothing kernels are already normalised; "
        "use auto for matrices such as '1 2 1; 2 4 2; 1 2 1'.",
        metavar=choices_metavar(NORMALIZE_CHOICES), autocompletion=complete_normalize,
        rich_help_panel=KERNEL)] = "none"
    scale: Annotated[float, typer.Option(
        "--scale", help="Multiply every kernel weight by this, after --normalize.",
        parser=number, metavar="S", rich_help_panel=KERNEL)] = 1.0
    bias: Annotated[float, typer.Option(
        "--bias", help="Add this to every output value after filtering, on the 0..1 scale "
        "(as ImageMagick's -bias and libvips's offset): e.g. 0.5 shows the negative and "
        "positive responses of a zero-sum kernel around mid-grey.",
        parser=number, metavar="B", rich_help_panel=KERNEL)] = 0.0
    correlate: Annotated[bool, typer.Option(
        "--correlate", help="Correlate instead of convolve: do not flip the kernel (OpenCV's "
        "filter2D and libvips's conv correlate). The origin is as scipy.ndimage.correlate, "
        "element k//2, also for even sizes.", rich_help_panel=KERNEL)] = False
    absolute: Annotated[bool, typer.Option(
        "--abs", help="Write the absolute value of the response (before --bias), so edge "
        "kernels show edges of both signs.", rich_help_panel=KERNEL)] = False
    channels: Annotated[str | None, typer.Option(
        "--channels", help="Filter only these channels and copy the others: letters from "
        "r, g, b, a (l or r/g/b is the grey of a greyscale image), e.g. rgb, a or r,g. "
        "Default: all.", show_default=False, metavar="LETTERS", rich_help_panel=IMAGE)] = None

    # Image fidelity (alpha, linear light), reading, and the output's encoding.
    alpha: Annotated[str, typer.Option(
        "--alpha", help=f"How transparency takes part, {one_of(ALPHA_MODES)}: "
                        "premultiply (default: colour weighted by "
                        "alpha, so shapes on a transparent background keep their colour at the "
                        "edges), separate (every channel on its own, as most tools do; edges "
                        "darken), or ignore (colour filtered, alpha left as it was).",
        metavar=choices_metavar(ALPHA_MODES), autocompletion=complete_alpha,
        rich_help_panel=IMAGE)] = "premultiply"
    linear: Annotated[bool, typer.Option(
        "--linear", help="Filter in linear light: decode sRGB before, encode after (the "
                         "gamma-correct blur; bright detail keeps its brightness).",
        rich_help_panel=IMAGE)] = False
    max_pixels: Annotated[int | None, typer.Option(
        "--max-pixels", help="Refuse larger images, a guard against decompression bombs. "
                             "Default: Pillow's limit, 89478485 pixels.",
        parser=whole_number, metavar="N", rich_help_panel=IMAGE, show_default=False)] = None
    format: Annotated[str | None, typer.Option(
        "--format", help="Output format (png, jpeg, tiff, webp, gif, ...). Default: from "
                               "the output's extension; needed when the output is '-' (stdout). "
                               "With --out-dir the outputs get its extension.",
        metavar="FMT", autocompletion=complete_format, rich_help_panel=OUTPUT,
        show_default=False)] = None
    quality: Annotated[int | None, typer.Option(
        "--quality", help="JPEG, WebP, AVIF or JPEG-compressed TIFF quality, 1..100. Default: "
                          "a JPEG input's own tables; else Pillow's (JPEG 75, WebP 80).",
        parser=whole_number, metavar="N", rich_help_panel=OUTPUT, show_default=False)] = None
    compression: Annotated[str | None, typer.Option(
        "--compression", metavar="NAME", autocompletion=complete_compression,
        help=f"TIFF compression: {one_of(TIFF_COMPRESSIONS)}. Default: a "
                              "TIFF input's own (a G4 fax stays G4 while it stays bilevel, else "
                              "deflate); other inputs: none. group3/group4 hold bilevel images "
                              "(--keep-palette), jpeg 8-bit ones (takes --quality).",
        rich_help_panel=OUTPUT, show_default=False)] = None
    background: Annotated[str | None, typer.Option(
        "--background", metavar="COLOR",
        help="Flatten transparency onto this colour (a name such as white, or "
                             "#rrggbb) before writing, as formats without alpha (JPEG, BMP, "
                             "PPM) need. Default: keep alpha; such formats then refuse it.",
        rich_help_panel=OUTPUT, show_default=False)] = None
    depth: Annotated[int | None, typer.Option(
        "--depth", metavar=choices_metavar(map(str, DEPTHS)),
        help=f"{one_of(map(str, DEPTHS))}: write 16-bit and float images with 8 "
                        "bits per channel, as JPEG, WebP and other 8-bit formats need (floats "
                        "are taken on the 0..1 scale). Default: keep the depth; 8-bit formats "
                        "then refuse such images.",
        rich_help_panel=OUTPUT, show_default=False)] = None
    compress_level: Annotated[int | None, typer.Option(
        "--compress-level", help="PNG zlib level, 0 (none, fastest) to 9 (smallest, slowest). "
                                 "Default 3: encodes about 3x faster than Pillow's 6, "
                                 "files ~17% larger.",
        parser=whole_number, metavar="N", rich_help_panel=OUTPUT, show_default=False)] = None
    keep_palette: Annotated[bool, typer.Option(
        "--keep-palette", help="Write palette (P) images back as palette images, requantised to "
                               "at most 256 colours, and 1-bit images as 1-bit (threshold 50%). "
                               "Default: write them as RGB/RGBA and greyscale.",
        rich_help_panel=OUTPUT)] = False
    in_place: Annotated[bool, typer.Option(
        "--in-place", help="Allow OUTPUT to be the INPUT file itself, which is then replaced "
                           "(atomically, once the new image is complete). Without it, naming "
                           "the input as the output is refused.",
        rich_help_panel=OUTPUT)] = False
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing OUTPUT that convtool did not write (INPUT "
                            "OUTPUT form). Without it only files convtool wrote are replaced, "
                            "so 'convtool blur *.png' over two photos cannot lose the second.",
        rich_help_panel=OUTPUT)] = False
    no_clobber: Annotated[bool, typer.Option(
        "--no-clobber", help="Refuse (exit 1) to replace any existing output file, even one "
                             "convtool wrote.",
        rich_help_panel=OUTPUT)] = False

    # Several inputs, folders, workers, progress.
    out_dir: Annotated[str | None, typer.Option(
        "--out-dir", help="Folder for the outputs: every path is then an input (file, folder "
                          "or glob pattern) and each output keeps its input's name. Created "
                          "if missing.", metavar="DIR", rich_help_panel=BATCH,
        show_default=False)] = None
    recursive: Annotated[bool, typer.Option(
        "--recursive", "-r", help="Also take the images in sub-folders, and keep the "
                                  "sub-folders in --out-dir.", rich_help_panel=BATCH)] = False
    include: Annotated[list[str] | None, typer.Option(
        "--include", help="Only take files whose name or relative path matches this glob "
                          "pattern, e.g. '*.jpg' (repeatable).", metavar="PAT",
        rich_help_panel=BATCH, show_default=False)] = None
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", help="Leave out files whose name or relative path matches this glob "
                          "pattern (repeatable).", metavar="PAT", rich_help_panel=BATCH,
        show_default=False)] = None
    suffix: Annotated[str, typer.Option(
        "--suffix", help="Add this to each output's name before the extension, "
                         "e.g. _blur.", metavar="S", rich_help_panel=BATCH)] = ""
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", help="Worker processes for several files (default: the number of "
                             "cores); 1 filters in the main process.", parser=whole_number,
        metavar="N", rich_help_panel=BATCH, show_default=False)] = None
    hidden: Annotated[bool, typer.Option(
        "--hidden", help="Also take hidden files and folders (names starting with '.') in "
                         "folder walks; by default they are skipped (macOS '._*' files are not "
                         "images). A file named directly is always tried.",
        rich_help_panel=BATCH)] = False
    skip_existing: Annotated[bool, typer.Option(
        "--skip-existing", help="Leave outputs that already exist alone (resume an "
                                "interrupted run). Default: overwrite, like cp.",
        rich_help_panel=BATCH)] = False
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print what would be written (INPUT -> OUTPUT) on stdout, and "
                          "do nothing.", rich_help_panel=BATCH)] = False
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress and no summary: print only failures.",
        rich_help_panel=BATCH)] = False
    json_report: Annotated[bool, typer.Option(
        "--json", help="Write a JSON report to stdout: a summary and one record per file "
                       "(input, output, status, error, seconds).", rich_help_panel=BATCH)] = False

    # Images larger than memory, and clusters (convtool.scale).
    memory: Annotated[str | None, typer.Option(
        "--memory", metavar="SIZE",
        help="Memory the filtering may take, e.g. 2GB or 512MB. An image whose "
                         "in-memory filtering would take more is filtered in tiles (the output "
                         "must then be a .tif: a tiled BigTIFF, written tile by tile). "
                         "Default: a quarter of this machine's memory.",
        rich_help_panel=SCALE, show_default=False)] = None
    tiles: Annotated[int | None, typer.Option(
        "--tiles", metavar="N",
        help="Filter in tiles of this many pixels square, whatever the image's "
                        "size (the output is a tiled BigTIFF). The result is the same as in "
                        "memory, sample for sample.", rich_help_panel=SCALE,
        show_default=False)] = None
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", metavar="ADDRESS", envvar="CONVTOOL_SCHEDULER",
        help="Run on a Dask cluster: the scheduler's address, e.g. tcp://host:8786 (or set "
             "CONVTOOL_SCHEDULER). With --out-dir the files are shared out among the "
             "workers; for one image its tiles are. Workers must see the same files at the "
             "same paths.", rich_help_panel=SCALE, show_default=False)] = None

    verbose: Annotated[bool, typer.Option(
        "-v", "--verbose", help="Print the kernel size, the chosen method and the time "
                                "to stderr (for --out-dir: the kernel once, before the "
                                "first file).", rich_help_panel=OTHER)] = False

    def job_options(self) -> dict:
        """The keywords of the pipeline's job builders (:func:`convtool.pipeline.kernel_job`)."""
        return {"mode": self.mode, "cval": self.cval, "method": self.method,
                "normalize": self.normalize, "scale": self.scale, "correlate": self.correlate,
                "absolute": self.absolute, "bias": self.bias, "channels": self.channels,
                "alpha": self.alpha, "linear": self.linear}

    def save_options(self):
        """How to encode the outputs, as :class:`convtool.imaging.SaveOptions`."""
        from convtool.imaging import SaveOptions

        return SaveOptions(format=self.format, quality=self.quality,
                           compress_level=self.compress_level,
                           keep_palette=self.keep_palette, no_clobber=self.no_clobber,
                           compression=self.compression, background=self.background,
                           depth=self.depth)


@functools.cache
def settings_parameters() -> list[tuple[str, object, object]]:
    """``(name, annotation, default)`` of every :class:`Settings` field, for typer."""
    hints = typing.get_type_hints(Settings, include_extras=True)
    return [(f.name, hints[f.name], f.default) for f in dataclasses.fields(Settings)]


@functools.cache
def _flags() -> dict[str, str]:
    flags = {}
    for name, annotation, _ in settings_parameters():
        info = annotation.__metadata__[0]
        # In Annotated, typer.Option("--name", ...) keeps the first name as its default.
        decls = [d for d in (info.default, *info.param_decls)
                 if isinstance(d, str) and d.startswith("--")]
        flags[name] = decls[0]
    return flags


@functools.cache
def kernel_fields() -> frozenset[str]:
    """The :class:`Settings` fields in the Kernel section (--normalize, --scale, ...)."""
    return frozenset(name for name, annotation, _ in settings_parameters()
                     if annotation.__metadata__[0].rich_help_panel == KERNEL)


def flag_for(param: str) -> str:
    """The command-line flag of a library parameter: ``out_dir`` -> ``--out-dir``.

    >>> flag_for("out_dir"), flag_for("absolute"), flag_for("threshold")
    ('--out-dir', '--abs', '--threshold')
    """
    return _flags().get(param, "--" + param.replace("_", "-"))
