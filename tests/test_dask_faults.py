"""A file that exhausts a worker's memory fails alone, after a bounded number of worker deaths.

With Dask's defaults such a file killed four workers in a row before failing
(the scheduler reruns a task whose worker died ``allowed-failures`` = 3 times).
Here, as the README says to start it, the scheduler gives up at the first death
(``allowed-failures`` 0) and the executor retries the lost task's files one by one,
each once: the bad file costs two workers, its neighbours are done.
"""

import numpy as np
import pytest
from PIL import Image

distributed = pytest.importorskip("distributed")

import daskcluster  # noqa: E402
from convtool import batch, imaging  # noqa: E402
from convtool.kernels import gaussian_kernel  # noqa: E402
from convtool.pipeline import FilterJob  # noqa: E402
from convtool.scale import dask_batch  # noqa: E402


@pytest.fixture(scope="module")
def small_cluster():
    # Each worker's nanny restarts it past 95% of 400 MB; a worker holds about 150 MB idle.
    address, client, procs = daskcluster.start(workers=2, memory_limit="400MB")
    try:
        yield address, client
    finally:
        daskcluster.stop(client, procs)


@pytest.mark.slow
def test_a_file_that_exhausts_memory_fails_alone(small_cluster, tmp_path, rng):
    address, client = small_cluster
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(5):
        pixels = rng.random((40, 50, 3)).astype(np.float32)
        imaging.write_image(imaging.Image(pixels=pixels, mode="RGB"), folder / f"ok{n}.png")
    # 9000x9000 RGBA: 324 MB as 8-bit samples (filtered over themselves, so about that
    # at the peak), a few hundred kB as a flat PNG.
    Image.new("RGBA", (9000, 9000), (128, 128, 128, 255)).save(folder / "huge.png")
    pids_before = set(client.run(lambda: __import__("os").getpid()).values())
    plan = batch.plan_batch([str(folder)], str(tmp_path / "out"), format="png")
    executor = dask_batch.DaskExecutor(address, files_per_task=3)
    report = batch.run_batch(FilterJob(gaussian_kernel(1.0)), plan.items, executor=executor)
    by_name = {r.source.rsplit("/", 1)[1]: r for r in report.results}
    assert [n for n, r in by_name.items() if r.status != "done"] == ["huge.png"], [
        (n, r.status, (r.error or "")[-300:]) for n, r in by_name.items() if n != "huge.png"]
    assert "the worker filtering it died 2 times" in by_name["huge.png"].error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"ok{n}.png"
                                                                    for n in range(5)]
    # Both workers come back (their nannies restart them): two deaths, not worker after worker.
    client.wait_for_workers(2, timeout=60)
    pids_after = set(client.run(lambda: __import__("os").getpid()).values())
    assert len(pids_after) == 2
    assert len(pids_after - pids_before) <= 2
