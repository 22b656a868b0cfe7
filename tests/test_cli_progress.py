"""The batch progress bar on a real terminal (issue 13): failures, the current file, 50 columns."""

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest
from PIL import Image

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_on_terminal(args, columns):
    """Run convtool with stderr on a pseudo-terminal ``columns`` wide; return what it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": str(columns), "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "convtool", *args], stdout=subprocess.DEVNULL,
                            stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the run is over
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    for i in range(6):
        Image.new("RGB", (64, 64), (30 * i, 80, 160)).save(root / f"photo_{i:02d}.png")
    (root / "photo_03.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return root


def test_bar_shows_failed_count_and_current_file_within_50_columns(folder, tmp_path):
    code, drawn = run_on_terminal(["blur", str(folder), "--sigma", "1", "--out-dir",
                                   str(tmp_path / "o"), "-j", "1"], columns=50)
    assert code == 1
    lines = [line for line in re.split(r"[\r\n]+", drawn) if line.strip()]
    bar_lines = [line for line in lines if "/6" in line]
    assert bar_lines, drawn
    assert all(len(line) <= 50 for line in bar_lines), bar_lines
    # The failure shows on the bar as it happens, not only in the summary.
    assert any("1 failed" in line for line in bar_lines), bar_lines
    assert any("photo_0" in line for line in bar_lines), bar_lines
