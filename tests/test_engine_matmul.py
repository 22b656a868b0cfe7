"""Column and row passes as batched matrix products: the sums of tap by tap, alike everywhere."""

import numpy as np
import pytest

from convtool import engine
from convtool.engine import direct, matmul


def by_taps_reference(src, f, rows):
    """float64 ``sum_m f[m] * src[i + m]`` for ``rows`` rows."""
    src = src.astype(np.float64)
    return sum(f[m] * src[m:m + rows] for m in range(f.size))


@pytest.fixture(params=[65536, 1], ids=["one piece", "pieces of 64 columns"])
def columns(request, monkeypatch):
    """Products over all columns at once, or in pieces of 64 and a last one overlapping."""
    monkeypatch.setattr(matmul, "WINDOW", request.param)


@pytest.mark.parametrize("rows", [1, 3, 4, 5, 17, 64])
@pytest.mark.parametrize("k", [4, 5, 17, 31])
def test_column_pass_matches_the_float64_sum(rows, k, rng, columns):
    f = rng.standard_normal(k).astype(np.float32)
    src = rng.random((rows + k - 1, 150), dtype=np.float32)
    out = np.full((rows, 150), np.nan, dtype=np.float32)
    matmul.column_pass(src, f, out)  # every row, the last ones too
    ref = by_taps_reference(src, f, rows)
    assert np.abs(out - ref).max() <= 4e-6 * np.abs(f).sum()


def test_every_row_is_summed_alike_wherever_it_falls(rng, columns):
    """Shifting the source by a row shifts the result exactly (block position is invisible)."""
    f = rng.random(9).astype(np.float32)
    src = rng.random((40 + 8, 150), dtype=np.float32)
    outs = []
    for shift in range(matmul.BLOCK + 1):
        out = np.empty((40 - shift, 150), dtype=np.float32)
        matmul.column_pass(src[shift:], f, out)
        outs.append(out)
    for shift, out in enumerate(outs):
        np.testing.assert_array_equal(out, outs[0][shift:])


def test_strided_rows_in_and_out(rng, columns):
    f = rng.random(7).astype(np.float32)
    wide = rng.random((30 + 6, 220), dtype=np.float32)
    src = wide[:, 5:205]  # rows 220 apart, 200 long
    out_wide = np.zeros((30, 230), dtype=np.float32)
    out = out_wide[:, 10:210]
    matmul.column_pass(src, f, out)
    np.testing.assert_allclose(out, by_taps_reference(src, f, 30), rtol=0, atol=2e-6)
    assert not out_wide[:, :10].any() and not out_wide[:, 210:].any()  # nothing outside


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("kernel", ["separable", "full"])
def test_a_non_finite_sample_reaches_only_its_own_window(bad, kernel, rng):
    """Arrays with inf or NaN go tap by tap: a product would spread them over a block."""
    from scipy import ndimage

    a = rng.random((40, 30, 2), dtype=np.float32)
    a[20, 11, 1] = bad
    k = rng.random((9, 9)) + 0.1
    if kernel == "separable":
        k = np.outer(k[0], k[1])
    assert not matmul.usable(a, 9) and matmul.usable(np.nan_to_num(a), 9)
    with np.errstate(invalid="ignore"):
        got = engine.convolve(a, k, mode="constant", method="direct")
        ref = ndimage.convolve(a.astype(np.float64), k[:, :, None], mode="constant")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    assert np.isfinite(got).sum() == 40 * 30 * 2 - 81  # only the 9x9 windows of the pixel
    finite = np.isfinite(ref)
    assert np.abs(got[finite] - ref[finite]).max() < 1e-5


def test_short_kernels_go_tap_by_tap(rng, monkeypatch):
    a = rng.random((30, 20, 1), dtype=np.float32)
    assert not matmul.usable(a, matmul.MIN_TAPS - 1) and matmul.usable(a, matmul.MIN_TAPS)
    used = []
    monkeypatch.setattr(direct, "column_pass", lambda *args: used.append(args[1].size))
    engine.convolve(a, np.ones((matmul.MIN_TAPS - 1, 1)), method="direct")
    assert used == []
    engine.convolve(a, np.ones((matmul.MIN_TAPS, 1)), method="direct")
    assert used and set(used) == {matmul.MIN_TAPS}


def row_reference(src, f, channels, width):
    """float64 ``sum_m f[m] * src[:, x + m]`` for ``width`` pixels of ``channels`` samples."""
    pixels = src.reshape(src.shape[0], -1, channels).astype(np.float64)
    return sum(f[m] * pixels[:, m:m + width] for m in range(f.size)).reshape(src.shape[0], -1)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("rows", [1, 6, 21])
def test_turned_row_pass_matches_the_float64_sum(channels, rows, rng, columns):
    k, width = 17, 53
    f = rng.standard_normal(k).astype(np.float32)
    src = rng.random((rows, (width + k - 1) * channels), dtype=np.float32)
    out = np.empty((rows, width * channels), dtype=np.float32)
    buffers = tuple(np.empty((width + k - 1) * rows * channels, np.float32) for _ in range(2))
    matmul.turned_row_pass(src, f, out, channels, buffers)
    assert np.abs(out - row_reference(src, f, channels, width)).max() <= 4e-6 * np.abs(f).sum()


@pytest.mark.parametrize("channels", sorted(matmul.ROW_BLOCKS))
@pytest.mark.parametrize("rows", [1, 6, 21])
@pytest.mark.parametrize("width", [1, 7, 16, 53])
def test_row_pass_matches_the_float64_sum(channels, rows, width, rng, columns):
    """Every kernel length it takes, images narrower than a block, rows in pieces or not."""
    for k in (2, 3, 9, matmul.ROW_BLOCKS[channels][1]):
        assert matmul.row_kind(k, channels) == "blocks"
        f = rng.standard_normal(k).astype(np.float32)
        src = rng.random((rows, (width + k - 1) * channels), dtype=np.float32)
        out = np.full((rows, width * channels), np.nan, dtype=np.float32)
        matmul.row_pass(src, f, out, channels)
        ref = row_reference(src, f, channels, width)
        assert np.abs(out - ref).max() <= 4e-6 * np.abs(f).sum()


def test_the_longest_kernels_and_most_channels_turn_the_band():
    for channels, (_, most) in matmul.ROW_BLOCKS.items():
        assert matmul.row_kind(most + 1, channels) == "turned"
    assert matmul.row_kind(matmul.ROW_MIN_TAPS, 5) == "turned"
    assert matmul.row_kind(matmul.ROW_MIN_TAPS - 1, 5) is None


@pytest.mark.parametrize("channels", sorted(matmul.ROW_BLOCKS))
def test_every_pixel_is_summed_alike_wherever_it_falls(channels, rng, columns):
    """Shifting the source by a pixel shifts the row pass's result exactly (block position,
    the last overlapping block and the pieces of rows are invisible)."""
    k, width = 9, 45
    f = rng.random(k).astype(np.float32)
    src = rng.random((7, (width + k - 1) * channels), dtype=np.float32)
    whole = np.empty((7, width * channels), dtype=np.float32)
    matmul.row_pass(src, f, whole, channels)
    for shift in range(1, 2 * matmul.ROW_BLOCKS[channels][0] + 2):
        out = np.empty((7, (width - shift) * channels), dtype=np.float32)
        matmul.row_pass(src[:, shift * channels:], f, out, channels)
        np.testing.assert_array_equal(out, whole[:, shift * channels:])
    for start, stop in [(1, 7), (2, 7), (3, 7), (3, 4), (6, 7)]:  # rows, alone or with others
        out = np.empty((stop - start, width * channels), dtype=np.float32)
        matmul.row_pass(src[start:stop], f, out, channels)
        np.testing.assert_array_equal(out, whole[start:stop])


def test_every_column_is_summed_alike_wherever_it_falls(rng, columns):
    """Shifting the source by a column shifts the result exactly (pieces are invisible)."""
    f = rng.random(9).astype(np.float32)
    src = rng.random((30 + 8, 161), dtype=np.float32)
    whole = np.empty((30, 161), dtype=np.float32)
    matmul.column_pass(src, f, whole)
    for shift in range(1, 11):
        out = np.empty((30, 161 - shift), dtype=np.float32)
        matmul.column_pass(src[:, shift:], f, out)
        np.testing.assert_array_equal(out, whole[:, shift:])


@pytest.mark.parametrize("channels", [1, 2, 3, 5])
def test_a_turned_row_comes_out_the_same_in_bands_of_any_height(channels, rng):
    """The turned band's products have the same widths whatever its height (NARROW)."""
    k, width = 41, 23
    f = rng.random(k).astype(np.float32)
    src = rng.random((61, (width + k - 1) * channels), dtype=np.float32)

    def turned(rows):
        out = np.empty((rows.stop - rows.start, width * channels), dtype=np.float32)
        matmul.turned_row_pass(src[rows], f, out, channels, (np.empty(0), np.empty(0)))
        return out

    whole = turned(slice(0, 61))
    for rows in [slice(1, 60), slice(0, 1), slice(5, 7), slice(30, 61), slice(3, 25)]:
        np.testing.assert_array_equal(turned(rows), whole[rows])
