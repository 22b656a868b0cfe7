"""Column and row passes as batched matrix products: the sums of tap by tap, alike everywhere."""

import numpy as np
import pytest

from convtool.engine import matmul
from convtool.engine.direct import fir, tap_terms


def by_taps_reference(src, f, rows):
    """float64 ``sum_m f[m] * src[i + m]`` for ``rows`` rows."""
    src = src.astype(np.float64)
    return sum(f[m] * src[m:m + rows] for m in range(f.size))


def taps(f, src, out):
    """The tap-by-tap fallback of column_pass, counting its calls."""
    calls = []
    tmp = np.empty_like(out)

    def run(i0, i1):
        calls.append((i0, i1))
        fir(lambda m: src[i0 + m:i1 + m], tap_terms(f), out[i0:i1], tmp[:i1 - i0])

    return run, calls


@pytest.mark.parametrize("rows", [1, 3, 4, 5, 17, 64])
@pytest.mark.parametrize("k", [4, 5, 17, 31])
def test_column_pass_matches_the_float64_sum(rows, k, rng):
    f = rng.standard_normal(k).astype(np.float32)
    src = rng.random((rows + k - 1, 37), dtype=np.float32)
    out = np.full((rows, 37), np.nan, dtype=np.float32)
    fallback, calls = taps(f, src, out)
    matmul.column_pass(src, f, out, fallback)
    assert calls == []  # finite data: every row by the product, the last ones too
    ref = by_taps_reference(src, f, rows)
    assert np.abs(out - ref).max() <= 4e-6 * np.abs(f).sum()


def test_every_row_is_summed_alike_wherever_it_falls(rng):
    """Shifting the source by a row shifts the result exactly (block position is invisible)."""
    f = rng.random(9).astype(np.float32)
    src = rng.random((40 + 8, 25), dtype=np.float32)
    outs = []
    for shift in range(matmul.BLOCK + 1):
        out = np.empty((40 - shift, 25), dtype=np.float32)
        matmul.column_pass(src[shift:], f, out, None)
        outs.append(out)
    for shift, out in enumerate(outs):
        np.testing.assert_array_equal(out, outs[0][shift:])


def test_strided_rows_in_and_out(rng):
    f = rng.random(7).astype(np.float32)
    wide = rng.random((30 + 6, 50), dtype=np.float32)
    src = wide[:, 5:45]  # rows 50 apart, 40 long
    out_wide = np.zeros((30, 60), dtype=np.float32)
    out = out_wide[:, 10:50]
    matmul.column_pass(src, f, out, None)
    np.testing.assert_allclose(out, by_taps_reference(src, f, 30), rtol=0, atol=2e-6)
    assert not out_wide[:, :10].any() and not out_wide[:, 50:].any()  # nothing outside


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_sample_reaches_only_its_own_window(bad, rng):
    f = rng.random(9).astype(np.float32) + 0.1
    src = rng.random((50 + 8, 6), dtype=np.float32)
    src[20, 3] = bad
    out = np.empty((50, 6), dtype=np.float32)
    fallback, calls = taps(f, src, out)
    with np.errstate(invalid="raise"):  # the product's 0 * inf stays quiet
        matmul.column_pass(src, f, out, fallback)
    assert calls  # redone tap by tap
    hit = ~np.isfinite(out) if bad is np.nan else np.isinf(out)
    assert sorted(set(np.nonzero(hit)[0])) == list(range(20 - 8, 21))  # rows whose window has it
    assert set(np.nonzero(hit)[1]) == {3}


def test_short_kernels_go_tap_by_tap(rng):
    f = np.array([1.0, 2.0, 1.0], dtype=np.float32)
    src = rng.random((12, 5), dtype=np.float32)
    out = np.empty((10, 5), dtype=np.float32)
    fallback, calls = taps(f, src, out)
    matmul.column_pass(src, f, out, fallback)
    assert calls == [(0, 10)]
    np.testing.assert_allclose(out, by_taps_reference(src, f, 10), atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("rows", [1, 6, 21])
def test_row_pass_matches_the_float64_sum(channels, rows, rng):
    k, width = 17, 53
    f = rng.standard_normal(k).astype(np.float32)
    src = rng.random((rows, (width + k - 1) * channels), dtype=np.float32)
    out = np.empty((rows, width * channels), dtype=np.float32)
    buffers = tuple(np.empty((width + k - 1) * rows * channels, np.float32) for _ in range(2))
    matmul.row_pass(src, f, out, channels, lambda: pytest.fail("went tap by tap"), buffers)
    pixels = src.reshape(rows, width + k - 1, channels).astype(np.float64)
    ref = sum(f[m] * pixels[:, m:m + width] for m in range(k)).reshape(rows, -1)
    assert np.abs(out - ref).max() <= 4e-6 * np.abs(f).sum()
