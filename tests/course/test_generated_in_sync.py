"""course/release and solutions/ must be what course/manage.py generates from course/source;
executing a notebook keeps the kernel's own output in a log file."""

import importlib.util

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from grading import COURSE

spec = importlib.util.spec_from_file_location("manage", COURSE / "manage.py")
manage = importlib.util.module_from_spec(spec)
spec.loader.exec_module(manage)


def test_release_and_solutions_are_in_sync_with_the_sources():
    assert manage.stale_files() == [], "run: python3 course/manage.py generate"


def test_kernel_output_goes_to_the_log_not_the_terminal(tmp_path, capfd):
    """What the kernel process writes to its own stderr (as TensorFlow's C++ start-up lines
    do) lands in the log; cell output stays in the notebook; a failure shows the log's tail."""
    noisy = "import os\nos.write(2, b'kernel-level noise\\n')\nprint('cell output')"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(noisy)])
    log = tmp_path / "kernel.log"
    executed = manage.execute(nb, tmp_path, log)
    texts = [o.get("text", "") for o in executed.cells[0].outputs]
    assert any("cell output" in t for t in texts)
    assert "kernel-level noise" not in capfd.readouterr().err

    failing = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(noisy + "\n1 / 0")])
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        manage.execute(failing, tmp_path, log)
    assert "kernel output" in capfd.readouterr().err


def test_hidden_tests_live_outside_the_notebooks(tmp_path):
    assert manage.misplaced_hidden_tests() == []
    course = tmp_path / "course"
    (course / "source" / "x").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"{manage.HIDDEN_BEGIN}\nassert True\n{manage.HIDDEN_END}")])
    nbformat.write(nb, course / "source" / "x" / "x.ipynb")
    assert len(manage.misplaced_hidden_tests(course)) == 1
