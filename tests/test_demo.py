"""python -m boxloc.demo: prints the anchor summary and coverage report, writes the overlay."""

import os
import re
import subprocess
import sys

from boxloc.demo import main


def is_png(path):
    return path.is_file() and path.stat().st_size > 10_000 and \
        path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_prints_the_report_and_writes_the_overlay(tmp_path, capsys):
    out = tmp_path / "new" / "folder"
    assert main(["--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "total: 10125 anchors" in stdout
    assert "c3: grid 30x30, stride 8, base 32 px, 8100 anchors" in stdout
    assert "Anchor coverage report: " in stdout and "GT boxes in 32 slices" in stdout
    assert "size (sqrt area)" in stdout and "nan" not in stdout.lower()
    # the refined positives of every shown GT box land on that box
    recovered = re.search(r"(\d+)/(\d+) GT boxes are recovered exactly", stdout)
    assert recovered and recovered.group(1) == recovered.group(2) != "0"
    path = out / "anchor_overlay.png"
    assert is_png(path)
    assert f"Wrote {path}" in stdout


def test_module_runs_from_the_command_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-m", "boxloc.demo", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert "10125" in result.stdout
    assert is_png(tmp_path / "anchor_overlay.png")
