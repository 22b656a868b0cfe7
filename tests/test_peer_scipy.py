"""scipy.ndimage's own filter tests, run against convtool's engine (tests/peers/)."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("scipy")
PEERS = pathlib.Path(__file__).parent / "peers"
SRC = pathlib.Path(__file__).parent.parent / "src"


@pytest.mark.slow
def test_scipy_ndimage_filter_suite_passes_on_our_engine(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # scipy's settings, not this project's
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(PEERS), str(SRC), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "scipy.ndimage.tests.test_filters",
         "-p", "scipy_engine_plugin", "-q", "-p", "no:cacheprovider",
         "-c", str(tmp_path / "pytest.ini")],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    tail = proc.stdout[-3000:]
    assert proc.returncode == 0, tail
    calls = re.search(r"convtool engine calls: (\d+), with 9 taps or more: (\d+)", proc.stdout)
    assert calls and int(calls.group(1)) >= 1000, tail  # convtool answered, not only scipy
    assert int(calls.group(2)) >= 300, tail  # and long kernels: the matrix-product passes
