"""Out-of-core filtering against the in-memory pipeline: 0 differing samples, every mode.

Tiny images with tiles forced smaller than the kernel keep these fast; each
case writes a tiled TIFF, filters it both ways and compares the 8-bit output.
"""

from dataclasses import replace

import numpy as np
import pytest

tifffile = pytest.importorskip("tifffile")  # the dask extra; the test extra installs it

from convtool import engine, imaging, scale  # noqa: E402
from convtool.engine.modes import pad_index  # noqa: E402
from convtool.errors import UsageError  # noqa: E402
from convtool.kernels import Kernel  # noqa: E402
from convtool.pipeline import FilterJob, apply_job  # noqa: E402
from convtool.scale import dispatch, outofcore  # noqa: E402
from convtool.scale.tiles import axis_index, parse_size, plan_tiles  # noqa: E402


def gaussian(sigma):
    r = int(4 * sigma + 0.5)
    x = np.arange(-r, r + 1)
    g = np.exp(-x * x / (2 * sigma * sigma))
    g /= g.sum()
    return np.outer(g, g)


@pytest.fixture(scope="module")
def rgba_tif(tmp_path_factory):
    rng = np.random.default_rng(7)
    pixels = (rng.random((53, 71, 4)) * 256).astype(np.uint8)
    pixels[..., 3] = np.maximum(pixels[..., 3], 1)
    pixels[:5, :9, 3] = 0  # fully transparent corner: unpremultiply's special case
    path = tmp_path_factory.mktemp("scale") / "in.tif"
    tifffile.imwrite(path, pixels, tile=(16, 16), compression="zlib", photometric="rgb",
                     extrasamples=["unassalpha"])
    return path


def both_ways(job, source, tmp_path, **kwargs):
    expected = np.asarray(imaging.to_pil(apply_job(job, imaging.read_image(source))))
    target = tmp_path / "out.tif"
    run = scale.filter_file(job, source, target, **kwargs)
    return expected, tifffile.imread(target), run


KERNELS = {
    "gauss2": gaussian(2.0),
    # 121x121: wider than the 16-pixel tiles and than the 53x71 image itself.
    "gauss15": gaussian(15.0),
    "random7x5": np.random.default_rng(3).random((7, 5)) / 20,  # not separable: 2-D FFT
    "box4": np.full((4, 4), 1 / 16),  # even size; its sums hit exact halves
    # Not separable and larger than the image both ways: the 2-D FFT's spectrum path.
    "random61x75": np.random.default_rng(5).random((61, 75)) / 2000,
}


@pytest.mark.parametrize("mode", engine.MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_out_of_core_is_exactly_the_in_memory_result(rgba_tif, tmp_path, name, method, mode):
    job = FilterJob(Kernel(KERNELS[name]), mode=mode, cval=0.3, method=method)
    expected, got, run = both_ways(job, rgba_tif, tmp_path, tiles=16)
    assert got.shape == expected.shape == (53, 71, 4)
    assert int((got != expected).sum()) == 0
    assert run.method == method
    assert run.strategy == outofcore.choose_strategy(job, (53, 71, 4), method)


PIXEL_OPTIONS = [
    {"alpha": "premultiply"},  # the default, named: the transparent corner is its edge case
    {"linear": True},
    {"linear": True, "alpha": "separate"},
    {"alpha": "ignore", "bias": 0.1, "absolute": True},
    {"alpha": "separate", "threshold": 0.05},
    {"stretch": True},
    {"channels": "rg"},
]


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("options", PIXEL_OPTIONS, ids=lambda o: "-".join(o))
def test_pixel_options_match_in_memory(rgba_tif, tmp_path, method, options):
    job = FilterJob(Kernel(gaussian(3.0)), mode="mirror", method=method, **options)
    expected, got, _ = both_ways(job, rgba_tif, tmp_path, tiles=16)
    assert int((got != expected).sum()) == 0


def test_gradient_pair_matches_in_memory(rgba_tif, tmp_path):
    sobel = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
    job = FilterJob(Kernel(sobel), kernel_y=Kernel(sobel.T), mode="wrap", stretch=True)
    expected, got, _ = both_ways(job, rgba_tif, tmp_path, tiles=8)
    assert int((got != expected).sum()) == 0


def test_a_budget_chooses_tiles_and_png_input_is_decoded_once(tmp_path, rng):
    pixels = (rng.random((40, 300)) * 256).astype(np.uint8)
    source = tmp_path / "in.png"
    imaging.write_image(imaging.Image(pixels=pixels[..., None] / np.float32(255), mode="L"),
                        source)
    job = FilterJob(Kernel(gaussian(1.5)), mode="reflect", method="direct")
    expected, got, run = both_ways(job, source, tmp_path, memory=360_000)
    assert int((got != expected[..., None].reshape(got.shape)).sum()) == 0
    assert run.tiles > 1


def test_sixteen_bit_greyscale(tmp_path, rng):
    source = tmp_path / "in16.tif"
    tifffile.imwrite(source, (rng.random((30, 45)) * 65536).astype(np.uint16), tile=(16, 16))
    job = FilterJob(Kernel(gaussian(2.0)), mode="nearest", method="fft")
    expected, got, _ = both_ways(job, source, tmp_path, tiles=16)
    assert got.dtype == np.uint16
    assert int((got != expected).sum()) == 0


def test_output_must_be_tiff_and_limits_are_honoured(rgba_tif, tmp_path):
    job = FilterJob(Kernel(gaussian(1.0)))
    with pytest.raises(UsageError, match="tiled BigTIFF"):
        scale.filter_file(job, rgba_tif, tmp_path / "out.png", tiles=16)
    with pytest.raises(imaging.ImageReadError, match="max-pixels"):
        scale.filter_file(job, rgba_tif, tmp_path / "out.tif", tiles=16, max_pixels=100)
    with pytest.raises(UsageError, match="too small"):
        scale.filter_file(job, rgba_tif, tmp_path / "out.tif", memory=1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing left behind


def test_output_is_a_tiled_bigtiff_with_the_input_compression(rgba_tif, tmp_path):
    scale.filter_file(FilterJob(Kernel(gaussian(1.0))), rgba_tif, tmp_path / "o.tif", tiles=16)
    with tifffile.TiffFile(tmp_path / "o.tif") as tif:
        page = tif.pages[0]
        assert tif.is_bigtiff and page.is_tiled
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE


@pytest.mark.parametrize("mode", engine.MODES)
def test_index_rule_is_the_engines(mode):
    for n in (1, 2, 5):
        for before, after in ((0, 0), (3, 1), (12, 17)):
            expected = pad_index(n, before, after, mode)
            assert axis_index(n, -before, n + after, mode).tolist() == expected.tolist()


def test_plan_tiles_fits_the_budget_and_prefers_whole_rows():
    plan = plan_tiles((4000, 3000, 3), (41, 41), budget=400 * 10**6)
    th, tw = plan.tile_shape
    assert tw == 3000 and th % 256 == 0
    for budget in (20 * 10**6, 60 * 10**6):
        small = plan_tiles((4000, 3000, 3), (41, 41), budget=budget)
        sh, sw = small.tile_shape
        assert sh * sw < th * tw
        window = small.window_bytes() * outofcore.FLOATS_PER_SAMPLE  # float32 copies
        assert window + sh * 3000 * 3 <= budget  # plus the band of 8-bit output rows


def test_parse_size():
    assert parse_size("2GB") == 2 * 10**9
    assert parse_size("1GiB") == 2**30
    with pytest.raises(UsageError, match="--memory"):
        parse_size("lots")


def test_striped_and_compressed_tiffs_read_by_region(tmp_path, rng):
    source = tmp_path / "striped.tif"
    pixels = (rng.random((45, 38, 3)) * 256).astype(np.uint8)
    tifffile.imwrite(source, pixels, rowsperstrip=7, compression="lzw", predictor=True,
                     photometric="rgb")
    job = FilterJob(Kernel(gaussian(2.5)), mode="wrap", method="direct")
    expected, got, _ = both_ways(job, source, tmp_path, tiles=16)
    assert int((got != expected).sum()) == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.LZW


def test_bigtiff_input_is_read_by_region(tmp_path, rng):
    source = tmp_path / "big.tif"
    tifffile.imwrite(source, (rng.random((40, 50, 3)) * 256).astype(np.uint8), tile=(16, 16),
                     bigtiff=True, photometric="rgb", compression="zstd")
    job = FilterJob(Kernel(gaussian(2.0)), mode="mirror", method="direct")
    expected, got, _ = both_ways(job, source, tmp_path, tiles=16)
    assert int((got != expected).sum()) == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ZSTD


def test_zarr_input_gives_the_in_memory_result(tmp_path, rng):
    zarr = pytest.importorskip("zarr")
    pixels = (rng.random((45, 52, 3)) * 256).astype(np.uint8)
    array = zarr.open_array(str(tmp_path / "in.zarr"), mode="w", shape=pixels.shape,
                            chunks=(16, 16, 3), dtype=np.uint8)
    array[:] = pixels
    reference = tmp_path / "same.tif"
    tifffile.imwrite(reference, pixels, photometric="rgb")
    job = FilterJob(Kernel(gaussian(3.0)), mode="reflect", method="fft")
    expected = np.asarray(imaging.to_pil(apply_job(job, imaging.read_image(reference))))
    # A zarr folder goes in tiles without being asked: it cannot be read in memory.
    dispatch.process_file(job, tmp_path / "in.zarr", tmp_path / "out.tif", explicit=False)
    assert int((tifffile.imread(tmp_path / "out.tif") != expected).sum()) == 0


def _traced_peak(action) -> int:
    """Peak bytes Python and numpy allocated while ``action()`` ran."""
    import tracemalloc

    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def large_tif(tmp_path_factory):
    """3000x3000 RGB, 27 MB decoded (108 MB as float32), a few kB on disk."""
    path = tmp_path_factory.mktemp("large") / "large.tif"
    pixels = np.zeros((3000, 3000, 3), np.uint8)
    pixels[::97, :, 1] = 200
    tifffile.imwrite(path, pixels, tile=(256, 256), photometric="rgb", compression="zlib")
    return path


def test_a_window_reads_only_the_tiles_it_touches(large_tif, tmp_path):
    from convtool.scale.lazy_read import open_reader

    zarr = pytest.importorskip("zarr")
    array = zarr.open_array(str(tmp_path / "z.zarr"), mode="w", shape=(3000, 3000, 3),
                            chunks=(256, 256, 3), dtype=np.uint8)
    array[::97, :, 1] = 200
    rows, cols = np.arange(1050, 1114), np.abs(np.arange(-5, 59))  # crosses the left edge
    for path in (large_tif, tmp_path / "z.zarr"):
        with open_reader(path) as reader:
            window = reader.gather(rows, cols)
            peak = _traced_peak(lambda r=reader: r.gather(rows, cols))
        assert window.shape == (64, 64, 3)
        assert window[1067 - 1050, 0, 1] == np.float32(200 / 255)  # row 1067 = 11 * 97
        assert peak < 3 * 256 * 256 * 3 * 4, peak  # a few tiles, nowhere near 27 MB


def test_filtering_holds_tiles_never_the_whole_image(large_tif, tmp_path):
    job = FilterJob(Kernel(gaussian(2.0)), method="direct")
    # A first small run imports what the tiled path needs (dask, zarr...): those modules
    # are allocated once per process and are not the image's memory.
    small = tmp_path / "small.tif"
    tifffile.imwrite(small, np.zeros((64, 64, 3), np.uint8), tile=(16, 16), photometric="rgb")
    scale.filter_file(job, small, tmp_path / "small-out.tif", memory=5 * 10**5)
    peak = _traced_peak(lambda: scale.filter_file(job, large_tif, tmp_path / "o.tif",
                                                  memory=12 * 10**6))
    # The budget and the writer's few bands of tiles (measured 18.5 MB), never the whole
    # image: 27 MB as 8-bit samples, 108 MB as float32.
    assert peak < 20 * 10**6, peak
    with tifffile.TiffFile(tmp_path / "o.tif") as tif:
        assert tif.is_bigtiff and tif.pages[0].is_tiled
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        assert tif.pages[0].shape == (3000, 3000, 3)


@pytest.mark.parametrize("name", ["I;16", "RGB"])
def test_a_constant_fill_is_not_cast_to_the_image_dtype(tmp_path, name):
    # Dask's own constant padding takes the array's dtype (cval 0.3 becomes 0 on uint16).
    # A kernel that only looks 3 pixels left copies the fill into the first 3 columns.
    pixels = np.full((20, 24) if name == "I;16" else (20, 24, 3), 1000 if name == "I;16" else 9,
                     np.uint16 if name == "I;16" else np.uint8)
    source = tmp_path / "in.tif"
    tifffile.imwrite(source, pixels, tile=(16, 16), photometric="minisblack" if
                     name == "I;16" else "rgb")
    shift = np.zeros((1, 7))
    shift[0, -1] = 1.0
    job = FilterJob(Kernel(shift), mode="constant", cval=0.3, method="direct")
    expected, got, _ = both_ways(job, source, tmp_path, tiles=16)
    assert int((got != expected).sum()) == 0
    full = 65535 if name == "I;16" else 255
    assert abs(int(got.reshape(20, 24, -1)[5, 0, 0]) - 0.3 * full) <= 0.5
    assert int(got.reshape(20, 24, -1)[5, 10, 0]) == pixels.reshape(20, 24, -1)[5, 10, 0]


def test_the_in_memory_model_knows_the_banded_path():
    from convtool.pipeline import blur_job

    blur = blur_job(2.0, None)
    shape = (1000, 2000, 3)
    # 8-bit, filtered a band of rows at a time: bytes, not float32 copies.
    assert scale.in_memory_bytes(shape, blur, "RGB") == 6 * 10**6 * 3
    for job, mode in ((blur, "I;16"), (replace(blur, mode="wrap"), "RGB"),
                      (replace(blur, stretch=True), "L")):
        assert scale.in_memory_bytes(shape, job, mode) == 6 * 10**6 * 4 * 3


def test_scratch_arrays_read_back_what_was_written(tmp_path, rng):
    from convtool.scale.scratch import ScratchArray

    floats = ScratchArray(tmp_path / "f", (50, 40, 3), np.float32)
    expected = np.zeros((50, 40, 3), np.float32)
    for key in ((slice(None), slice(5, 12)), slice(10, 19), (slice(3, 9), 7)):  # columns, rows
        value = rng.random(expected[key].shape).astype(np.float32)
        floats[key] = value
        expected[key] = value
    for key in (slice(None), slice(3, 30), (slice(None), slice(2, 9)), (4, slice(1, 3))):
        assert np.array_equal(floats[key], expected[key])
    spectrum = ScratchArray(tmp_path / "c", (16, 9), np.complex64)
    z = (rng.random((16, 4)) + 1j).astype(np.complex64)
    spectrum[:, 3:7] = z
    assert np.array_equal(spectrum[2:5][:, 3:7], z[2:5])
