"""run_batch from a script without a main guard, or from stdin (issue 13)."""

import os
import subprocess
import sys
import textwrap

from PIL import Image

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

SCRIPT = textwrap.dedent("""\
    import sys
    from convtool.batch import plan_batch, run_batch
    from convtool.pipeline import FilterJob
    from convtool.kernels import gaussian_kernel
    from convtool.errors import ConvtoolError


    def main():
        plan = plan_batch([sys.argv[1]], sys.argv[2])
        try:
            report = run_batch(FilterJob(gaussian_kernel(1.0)), plan.items, jobs=2)
        except ConvtoolError as e:
            print("ERROR", e)
        else:
            print("STATUS", sorted({r.status for r in report.results}))
""")
UNGUARDED = SCRIPT + "\n\nmain()\n"
GUARDED = SCRIPT + "\n\nif __name__ == '__main__':\n    main()\n"


def make_inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (16, 16), (50 * i, 0, 0)).save(folder / f"{i}.png")
    return folder


def check(proc, out):
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "exited unexpectedly" not in proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    if lines[0].startswith("STATUS"):  # ran in the calling process instead
        assert lines[0] == "STATUS ['done']"
        assert len(list(out.iterdir())) == 4
    else:  # one clear error that shows the fix
        assert "__main__" in lines[0]


def test_run_batch_from_a_script_without_a_main_guard(tmp_path):
    folder = make_inputs(tmp_path)
    script = tmp_path / "noguard.py"
    script.write_text(UNGUARDED)
    proc = subprocess.run([sys.executable, str(script), str(folder), str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC})
    check(proc, tmp_path / "o")


def test_run_batch_from_stdin(tmp_path):
    folder = make_inputs(tmp_path)
    proc = subprocess.run([sys.executable, "-", str(folder), str(tmp_path / "o")], input=UNGUARDED,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC})
    check(proc, tmp_path / "o")


def test_run_batch_with_a_main_guard_runs_every_file(tmp_path):
    folder = make_inputs(tmp_path)
    script = tmp_path / "guarded.py"
    script.write_text(GUARDED)
    proc = subprocess.run([sys.executable, str(script), str(folder), str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC})
    assert proc.stdout.strip() == "STATUS ['done']", proc.stdout + proc.stderr
