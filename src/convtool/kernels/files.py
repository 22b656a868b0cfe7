"""Kernel files: text and CSV rows, ``.npy`` arrays, libvips ``.mat`` matrices."""

from __future__ import annotations

import contextlib
import math
import os
import stat

import numpy as np

from convtool.errors import KernelError
from convtool.kernels.model import MAX_KERNEL_SIDE, MAX_KERNEL_TAPS, Kernel, check_taps

# What the largest allowed kernel needs, so that reading a file is bounded:
# a number written out takes at most ~25 characters ("-1.2345678901234567e-308")
# and a separator; comments and blank lines get a margin.
TEXT_BYTES_PER_VALUE = 32
TEXT_MARGIN = 1024 * 1024
MAX_TEXT_BYTES = MAX_KERNEL_TAPS * TEXT_BYTES_PER_VALUE + TEXT_MARGIN
MAX_LINE_CHARS = MAX_KERNEL_SIDE * TEXT_BYTES_PER_VALUE + 64 * 1024
# .npy: at most 16 bytes a value (float128), and the header.
MAX_NPY_BYTES = MAX_KERNEL_TAPS * 16 + 64 * 1024


def parse_rows(lines, source: str, unit: str = "line") -> np.ndarray:
    rows = []
    first_line = None
    for number, line in lines:
        text = line.split("#", 1)[0].replace(",", " ").strip()
        if not text:
            continue
        values = []
        for token in text.split():
            try:
                v = float(token)
            except ValueError:
                msg = f"{source}, {unit} {number}: {token!r} is not a number"
                raise KernelError(msg) from None
            if not math.isfinite(v):
                msg = f"{source}, {unit} {number}: {token!r} is not a finite number"
                raise KernelError(msg)
            values.append(v)
        if rows and len(values) != len(rows[0]):
            msg = (f"{source}, {unit} {number}: {len(values)} values, but {unit} {first_line} "
                   f"has {len(rows[0])}: every row needs the same number")
            raise KernelError(msg)
        if first_line is None:
            first_line = number
        rows.append(values)
        # Refuse as soon as the kernel is too large, not after reading it all.
        if (len(values) > MAX_KERNEL_SIDE or len(rows) > MAX_KERNEL_SIDE
                or len(rows) * len(values) > MAX_KERNEL_TAPS):
            msg = (f"{source}, line {number}: the kernel is too large, {len(rows)} rows of "
                   f"{len(values)} values so far (at most {MAX_KERNEL_SIDE} per side and "
                   f"{MAX_KERNEL_TAPS} values)")
            raise KernelError(msg)
    if not rows:
        msg = f"{source}: no numbers found: a kernel file needs at least one row of numbers"
        raise KernelError(msg)
    check_taps((len(rows), len(rows[0])), source)
    return np.array(rows, dtype=np.float64)


def _parse_mat(text: str, path: str) -> Kernel:
    """A libvips matrix file: ``width height [scale [offset]]`` then the rows."""
    source = f"kernel file {path}"
    # libvips accepts spaces, tabs, commas and double quotes between numbers.
    lines = [(n, line.replace('"', " ").replace("\t", " "))
             for n, line in enumerate(text.splitlines(), 1)
             if line.split("#", 1)[0].strip()]
    if not lines:
        msg = f"{source}: empty: a .mat file starts with 'width height [scale [offset]]'"
        raise KernelError(msg)
    (hnum, hline), body = lines[0], lines[1:]
    header = parse_rows([(hnum, hline)], source)[0]
    if not 2 <= header.size <= 4:
        msg = (f"{source}, line {hnum}: the header must be 'width height [scale [offset]]', "
               f"got {header.size} numbers")
        raise KernelError(msg)
    width, height = header[0], header[1]
    for what, v in (("width", width), ("height", height)):
        if not v.is_integer() or v < 1:
            msg = f"{source}, line {hnum}: {what} must be a whole number >= 1, got {v:g}"
            raise KernelError(msg)
    width, height = int(width), int(height)
    check_taps((height, width), source)
    scale = float(header[2]) if header.size > 2 else 1.0
    offset = float(header[3]) if header.size > 3 else 0.0
    if scale == 0.0:
        msg = f"{source}, line {hnum}: scale must not be 0 (libvips divides by it)"
        raise KernelError(msg)
    if len(body) != height:
        msg = f"{source}: the header says {height} rows, the file has {len(body)}"
        raise KernelError(msg)
    rows = parse_rows(body, source)
    if rows.shape[1] != width:
        msg = f"{source}: the header says {width} columns, the rows have {rows.shape[1]}"
        raise KernelError(msg)
    # libvips: out = sum(p * m) / scale + offset, offset in 0..255 for 8-bit images.
    return Kernel(rows / scale, name=os.path.basename(path), offset=offset / 255.0)


def load_kernel(path) -> Kernel:
    """Read a kernel from a text, CSV, ``.npy`` or libvips ``.mat`` file.

    In text and CSV files numbers are separated by whitespace or commas, one
    kernel row per line; ``#`` starts a comment. A ``.mat`` file is libvips's
    matrix format: a header line ``width height [scale [offset]]`` and then the
    rows; the kernel is divided by ``scale`` and ``offset`` (in 8-bit units,
    0..255, as libvips applies it to 8-bit images) becomes
    :attr:`Kernel.offset` on the 0..1 scale. Errors name the file and the line.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "blur.mat")
    >>> with open(path, "w") as f:
    ...     _ = f.write("3 1 4\\n1 2 1\\n")
    >>> load_kernel(path).array
    array([[0.25, 0.5 , 0.25]])
    >>> import shutil; shutil.rmtree(os.path.dirname(path))
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        msg = f"kernel file {path}: no such file"
        raise KernelError(msg)
    if os.path.isdir(path):
        msg = f"kernel file {path}: is a folder, not a file"
        raise KernelError(msg)
    if path.lower().endswith(".npy"):
        return _load_npy(path)
    return _load_text(path)


@contextlib.contextmanager
def _open_regular(path: str, limit: int, text: bool):
    """Open a kernel file, refusing devices, FIFOs and sockets and files over ``limit`` bytes.

    Opened without blocking (a FIFO with no writer would wait forever), then
    checked on the open file itself, so nothing can be swapped in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        msg = f"kernel file {path}: cannot read it ({e.strerror or e})"
        raise KernelError(msg) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            msg = (f"kernel file {path}: not a regular file (a device, FIFO or socket); "
                   "kernels are read from files")
            raise KernelError(msg)
        if st.st_size > limit:
            msg = (f"kernel file {path}: {st.st_size:,} bytes, more than the {limit:,} that a "
                   f"kernel of at most {MAX_KERNEL_TAPS:,} values needs")
            raise KernelError(msg)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    with open(fd, encoding="utf-8") if text else open(fd, "rb") as f:
        yield f


def _bounded_lines(f, path: str):
    """(number, line) of a text file, refusing a line longer than any kernel row needs."""
    number = 0
    while True:
        line = f.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_CHARS:
            msg = (f"kernel file {path}, line {number}: longer than {MAX_LINE_CHARS:,} "
                   f"characters, more than a row of at most {MAX_KERNEL_SIDE} values needs")
            raise KernelError(msg)
        yield number, line


def _load_npy(path: str) -> Kernel:
    """A ``.npy`` array of real numbers, 1-D (one row) or 2-D."""
    try:
        with _open_regular(path, MAX_NPY_BYTES, text=False) as f:
            # Read the header first, to refuse a huge or wrong kernel before
            # allocating it.
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            _check_npy_header(path, shape, dtype)
            f.seek(0)
            a = np.load(f, allow_pickle=False)
    except KernelError:
        raise
    except (OSError, ValueError) as e:
        msg = f"kernel file {path}: not a readable .npy file ({e})"
        raise KernelError(msg) from None
    _check_npy_header(path, a.shape, a.dtype)
    if a.ndim == 1:
        a = a[np.newaxis, :]
    check_taps(a.shape, path)
    return Kernel(a.astype(np.float64), name=os.path.basename(path))


def _check_npy_header(path: str, shape, dtype) -> None:
    if dtype.kind not in "biuf":
        msg = f"kernel file {path}: holds {dtype} values, not real numbers"
        raise KernelError(msg)
    if len(shape) not in (1, 2):
        msg = f"kernel file {path}: holds a {len(shape)}-D array; kernels are 1-D or 2-D"
        raise KernelError(msg)
    check_taps(shape, f"kernel file {path}")


def _load_text(path: str) -> Kernel:
    """A text or CSV file of rows, or a libvips ``.mat`` matrix."""
    is_mat = path.lower().endswith(".mat")
    try:
        with _open_regular(path, MAX_TEXT_BYTES, text=True) as f:
            if is_mat:  # a header line, then the rows: small by its own declaration
                return _parse_mat(f.read(MAX_TEXT_BYTES), path)
            # Parsed line by line, so a huge file is refused early (see parse_rows).
            array = parse_rows(_bounded_lines(f, path), f"kernel file {path}")
    except UnicodeDecodeError:
        msg = (f"kernel file {path}: not a text file of numbers (nor a .npy file; "
               ".mat files must be libvips text matrices, not MATLAB files)")
        raise KernelError(msg) from None
    except OSError as e:
        msg = f"kernel file {path}: cannot read it ({e.strerror})"
        raise KernelError(msg) from None
    return Kernel(array, name=os.path.basename(path))

