"""The pipeline's job builders give exactly what the commands of the same name give."""

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from convtool import imaging, pipeline
from convtool.cli import app
from convtool.errors import ConvtoolError, UsageError
from convtool.kernels import parse_size

SPEC = "1 2 1; 2 4 2; 1 2 1"

# (image, command line after the paths, the builder call that must match it)
CASES = [
    ("chelsea.png", ["blur", "--sigma", "2"], lambda: pipeline.blur_job(2.0)),
    ("camera.png", ["mean", "--size", "5", "--mode", "wrap"],
     lambda: pipeline.mean_job(5, mode="wrap")),
    ("chelsea.png", ["convolve", "-k", SPEC, "--normalize", "auto", "--correlate"],
     lambda: pipeline.convolve_job(SPEC, normalize="auto", correlate=True)),
    ("coffee.png", ["convolve", "-k", "sobel-x", "--abs", "--bias", "0.1", "--scale", "0.5",
                    "--channels", "rg"],
     lambda: pipeline.convolve_job("sobel-x", absolute=True, bias=0.1, scale=0.5,
                                   channels="rg")),
    ("camera.png", ["sharpen", "--sigma", "1.5", "--amount", "0.8", "--threshold", "0.02"],
     lambda: pipeline.sharpen_job(1.5, 0.8, 0.02)),
    ("horse.png", ["sharpen", "--alpha", "separate", "--linear"],
     lambda: pipeline.sharpen_job(alpha="separate", linear=True)),
    ("chelsea.png", ["edges", "--operator", "scharr", "--no-stretch"],
     lambda: pipeline.edges_job("scharr", stretch=False)),
    ("camera.png", ["edges", "--operator", "log", "--sigma", "2"],
     lambda: pipeline.edges_job("log", 2.0)),
    ("astronaut.png", ["edges", "--operator", "laplacian", "--no-stretch", "--method", "fft"],
     lambda: pipeline.edges_job("laplacian", stretch=False, method="fft")),
]


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im)


@pytest.mark.parametrize(("name", "argv", "build"), CASES,
                         ids=[" ".join(c[1]) for c in CASES])
def test_builder_gives_what_the_command_gives(samples, tmp_path, name, argv, build):
    source = samples / name
    by_cli, by_library = tmp_path / "cli.png", tmp_path / "lib.png"
    command, *options = argv
    result = CliRunner().invoke(app, [command, str(source), str(by_cli), *options])
    assert result.exit_code == 0, result.output
    pipeline.process_file(build(), source, by_library)
    got, want = pixels(by_cli), pixels(by_library)
    assert got.shape == want.shape
    assert np.array_equal(got, want)
    assert not np.array_equal(got, pixels(source))  # the filter did something


def test_edges_operators_are_the_library_list():
    assert set(pipeline.EDGE_OPERATORS) == {"sobel", "scharr", "prewitt", "laplacian", "log"}
    for operator in pipeline.EDGE_OPERATORS:
        job = pipeline.edges_job(operator)
        assert job.stretch
        assert (job.kernel_y is not None) != job.absolute  # a gradient pair, or |laplacian|


def test_no_stretch_divides_by_the_operator_bound():
    job = pipeline.edges_job("sobel", stretch=False)
    # |Sobel x| sums to 4 on a 0..1 step; the magnitude's bound is hypot(4, 4).
    assert np.abs(job.kernel.array).sum() * np.hypot(4, 4) == pytest.approx(8.0)
    assert pipeline.edges_job("laplacian", stretch=False).kernel.array[1, 1] == -1.0


def test_sharpen_threshold_is_scaled_by_amount():
    assert pipeline.sharpen_job(amount=2.0, threshold=0.1).threshold == pytest.approx(0.2)


@pytest.mark.parametrize(("call", "param"), [
    (lambda: pipeline.sharpen_job(threshold=-1), "threshold"),
    (lambda: pipeline.edges_job("roberts"), "operator"),
    (lambda: pipeline.blur_job(1.0, bias=float("nan")), "bias"),
    (lambda: pipeline.mean_job(3, channels="xyz"), "channels"),
])
def test_library_errors_name_the_parameter_not_a_flag(call, param):
    with pytest.raises(UsageError) as info:
        call()
    assert info.value.params == (param,)
    assert param in str(info.value)
    assert "--" not in str(info.value)


def test_job_builders_are_public_and_lazy():
    import convtool

    for name in ("blur_job", "mean_job", "convolve_job", "sharpen_job", "edges_job",
                 "FilterJob", "apply_job", "process_file"):
        assert getattr(convtool, name) is getattr(pipeline, name)



@pytest.mark.parametrize("call", [
    lambda: imaging.output_format("-"),
    lambda: imaging.output_format("a.xyz"),
    lambda: parse_size("0x3"),
    lambda: imaging.check_output("a.bmp", imaging.SaveOptions(quality=5)),
    lambda: imaging.check_output("a.png", imaging.SaveOptions(compression="lzw")),
    lambda: imaging.SaveOptions(depth=16),
    lambda: imaging.SaveOptions(background="nocolour"),
    lambda: imaging.read_image("a.png", max_pixels=0),
])
def test_imaging_and_kernel_errors_name_parameters_not_flags(call):
    """Library messages speak the library's words; the CLI maps them to its flags."""
    with pytest.raises(ConvtoolError) as caught:
        call()
    assert "--" not in str(caught.value)
    assert caught.value.params


def test_process_file_analyses_the_kernel_once(tmp_path, monkeypatch):
    """One SVD per file, however many places ask which method runs (issue 10)."""
    from convtool.engine import analysis
    from convtool.kernels import Kernel

    analysis._CACHE.clear()
    analysis._SVDS.clear()
    calls = []
    svd = np.linalg.svd

    def counting_svd(*args, **kwargs):
        calls.append(1)
        return svd(*args, **kwargs)

    monkeypatch.setattr(analysis.np.linalg, "svd", counting_svd)
    source = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (40, 50, 3), np.uint8)).save(source)
    weights = np.random.default_rng(3).standard_normal((15, 15))
    job = pipeline.FilterJob(Kernel(weights / weights.sum()))
    result = pipeline.process_file(job, str(source), str(tmp_path / "out.png"))
    assert result.status == "done" and len(calls) == 1
