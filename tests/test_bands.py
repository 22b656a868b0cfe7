"""Band-by-band filtering of 8-bit images equals filtering the whole image."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from convtool import imaging, pipeline
from convtool.errors import UsageError
from convtool.imaging import Image
from convtool.pipeline import bands

JOBS = {
    "blur": lambda: pipeline.blur_job(2.0),
    "blur fft": lambda: pipeline.blur_job(3.0, method="fft"),
    "box": lambda: pipeline.mean_job(7),
    "even box constant": lambda: pipeline.mean_job(4, mode="constant", cval=0.5),
    "custom 5x5 mirror": lambda: pipeline.convolve_job(
        "1 2 3 4 5; 2 0 1 0 2; 3 1 9 1 3; 0 0 1 0 0; 5 4 3 2 1", normalize="sum", mode="mirror"),
    "sharpen threshold": lambda: pipeline.sharpen_job(1.5, amount=2.0, threshold=0.02),
    "edges": lambda: pipeline.edges_job("sobel", stretch=False),
    "linear light": lambda: pipeline.blur_job(1.0, linear=True),
    "channels": lambda: pipeline.blur_job(2.0, channels="g"),
    "alpha ignore": lambda: pipeline.blur_job(2.0, alpha="ignore"),
}


def whole(job, image: Image) -> np.ndarray:
    out = pipeline.apply_job(job, bands.to_float(image))
    return np.clip(np.rint(np.clip(out.pixels, 0, 1) * 255), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", sorted(JOBS))
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_bands_equal_the_whole_image(name, mode, rng, monkeypatch):
    monkeypatch.setattr(bands, "BAND_BYTES", 4 * 40 * 17 * 4)  # bands of ~17 rows
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    job = JOBS[name]()
    if mode == "L" and job.channels:
        job = pipeline.blur_job(2.0)
    pixels = rng.integers(0, 256, size=(97, 40, channels), dtype=np.uint8)
    pixels[:40] = np.linspace(0, 255, 40, dtype=np.uint8)[None, :, None]  # smooth part too
    image = Image(pixels=pixels, mode=mode)
    assert bands.can_band(job, image)
    got = bands.apply_job_banded(job, image)
    assert got.pixels.dtype == np.uint8 and got.mode == mode
    expected = whole(job, image)
    diff = np.abs(got.pixels.astype(int) - expected)
    assert diff.max() <= 1  # float rounding may tip a value that sits on a half level
    assert (diff > 0).mean() < 0.001


def test_what_cannot_be_banded(rng):
    pixels = rng.integers(0, 256, size=(300, 4000, 3), dtype=np.uint8)
    image = Image(pixels=pixels, mode="RGB")
    assert bands.can_band(pipeline.blur_job(2.0), image)
    assert not bands.can_band(pipeline.blur_job(2.0, mode="wrap"), image)
    assert not bands.can_band(pipeline.edges_job("sobel", stretch=True), image)
    assert not bands.can_band(pipeline.blur_job(2.0), bands.to_float(image))
    small = Image(pixels=pixels[:10], mode="RGB")
    assert not bands.can_band(pipeline.blur_job(2.0), small)  # one band: nothing to gain


def test_process_file_bands_a_photo(tmp_path, samples, monkeypatch):
    monkeypatch.setattr(bands, "BAND_BYTES", 4 * 512 * 3 * 50)
    calls = []
    original = bands.apply_job_banded
    monkeypatch.setattr(bands, "apply_job_banded",
                        lambda *a, **k: calls.append(k) or original(*a, **k))
    target = tmp_path / "out.png"
    pipeline.process_file(pipeline.blur_job(2.0), samples / "astronaut.png", target)
    assert calls == [{"in_place": True}]  # the file's pixels are its own: no second image
    job = pipeline.blur_job(2.0)
    expected = whole(job, imaging.read_image(samples / "astronaut.png", integers=True))
    got = np.asarray(imaging.to_pil(imaging.read_image(target)))
    assert np.abs(got.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("name", sorted(JOBS))
@pytest.mark.parametrize(("height", "threads"), [(97, 2), (97, 1), (103, 3), (70, 2), (81, 4)])
def test_in_place_equals_a_new_output(name, height, threads, rng, monkeypatch):
    """Written over the input, band by band, the result is the same to the last sample.

    Heights leave a last band shorter than the halo (103 rows: 6 bands of 17
    and 1 row), one of a few rows, or a whole band; threads run 1-4 bands at once.
    """
    monkeypatch.setattr(bands, "BAND_BYTES", 4 * 40 * 17 * 3)  # bands of 17 rows
    job = replace(JOBS[name](), threads=threads)
    mode = "RGB"
    pixels = rng.integers(0, 256, size=(height, 40, 3), dtype=np.uint8)
    pixels[: height // 3] = np.linspace(0, 255, 40, dtype=np.uint8)[None, :, None]
    expected = bands.apply_job_banded(job, Image(pixels=pixels.copy(), mode=mode)).pixels
    mine = pixels.copy()
    got = bands.apply_job_banded(job, Image(pixels=mine, mode=mode), in_place=True)
    assert got.pixels is mine  # no second image was made
    np.testing.assert_array_equal(mine, expected)


def test_in_place_with_a_one_row_kernel(rng, monkeypatch):
    monkeypatch.setattr(bands, "BAND_BYTES", 4 * 30 * 9)
    job = pipeline.convolve_job("1 2 3 2 1", normalize="sum")  # no rows above or below
    pixels = rng.integers(0, 256, size=(50, 30, 1), dtype=np.uint8)
    expected = bands.apply_job_banded(job, Image(pixels=pixels.copy(), mode="L")).pixels
    bands.apply_job_banded(job, Image(pixels=pixels, mode="L"), in_place=True)
    np.testing.assert_array_equal(pixels, expected)


def test_in_place_leaves_a_read_only_input_alone(rng, monkeypatch):
    monkeypatch.setattr(bands, "BAND_BYTES", 4 * 30 * 3 * 9)
    pixels = rng.integers(0, 256, size=(60, 30, 3), dtype=np.uint8)
    before = pixels.copy()
    pixels.flags.writeable = False
    got = bands.apply_job_banded(pipeline.blur_job(1.5), Image(pixels=pixels, mode="RGB"),
                                 in_place=True)
    np.testing.assert_array_equal(pixels, before)
    assert got.pixels is not pixels and not np.array_equal(got.pixels, before)


def test_the_reused_float_band_is_the_exact_conversion(rng):
    pixels = rng.integers(0, 256, size=(30, 7, 3), dtype=np.uint8)
    pixels[0, 0] = (0, 255, 128)
    buffers = bands._Buffers((40, 7, 3))
    got = buffers.unit([pixels[:10], pixels[10:25], pixels[25:]])
    np.testing.assert_array_equal(got, pixels.astype(np.float32) / np.float32(255))
    again = buffers.unit([pixels[:5]])
    assert np.shares_memory(got, again)  # the same buffer, refilled


@pytest.mark.parametrize("name", sorted(JOBS))
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_rows_of_a_job_are_those_rows_of_the_whole_result(name, mode, rng):
    """apply_job(rows=) filters a band with its neighbours as the whole image does."""
    job = JOBS[name]()
    pixels = rng.random((60, 33, len(mode)), dtype=np.float32)
    image = Image(pixels=pixels, mode=mode)
    full = pipeline.apply_job(job, image)
    for rows in [(0, 60), (0, 9), (20, 41), (59, 60)]:
        part = pipeline.apply_job(job, image, rows=rows)
        assert part.mode == mode and part.pixels.shape == (rows[1] - rows[0], 33, len(mode))
        np.testing.assert_allclose(part.pixels, full.pixels[rows[0]:rows[1]], rtol=0, atol=2e-6)


def test_rows_of_a_stretched_job_are_refused(rng):
    image = Image(pixels=rng.random((20, 10, 3), dtype=np.float32), mode="RGB")
    with pytest.raises(UsageError, match="stretch"):
        pipeline.apply_job(pipeline.edges_job("sobel", stretch=True), image, rows=(2, 5))
