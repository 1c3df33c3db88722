"""course/release and solutions/ must be what course/manage.py generates from course/source;
executing a notebook keeps the kernel's own output in a log file."""


import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

from classroom import building, commands
from classroom.layout import CourseFolder
from course_helpers import COURSE



def test_release_and_solutions_are_in_sync_with_the_sources():
    assert building.stale_files() == [], "run: python3 course/manage.py generate"


def test_kernel_output_goes_to_the_log_not_the_terminal(tmp_path, capfd):
    """What the kernel process writes to its own stderr (as TensorFlow's C++ start-up lines
    do) lands in the log; cell output stays in the notebook; a failure shows the log's tail."""
    noisy = "import os\nos.write(2, b'kernel-level noise\\n')\nprint('cell output')"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(noisy)])
    log = tmp_path / "kernel.log"
    executed = building.execute(nb, tmp_path, log)
    texts = [o.get("text", "") for o in executed.cells[0].outputs]
    assert any("cell output" in t for t in texts)
    assert "kernel-level noise" not in capfd.readouterr().err

    failing = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(noisy + "\n1 / 0")])
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        building.execute(failing, tmp_path, log)
    assert "kernel output" in capfd.readouterr().err


def test_hidden_tests_live_outside_the_notebooks(tmp_path):
    assert building.misplaced_hidden_tests() == []
    course = tmp_path / "course"
    (course / "source" / "x").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"{building.HIDDEN_BEGIN}\nassert True\n{building.HIDDEN_END}")])
    nbformat.write(nb, course / "source" / "x" / "x.ipynb")
    assert len(building.misplaced_hidden_tests(course)) == 1


def test_student_edition_holds_no_answer_key(tmp_path):
    out = tmp_path / "students"
    assert commands.manage(["publish", "--out", str(out)]) == 0
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "README.md" in files and "lib/pyproject.toml" in files
    assert {f"course/release/{a}" for a in CourseFolder().assignments()} <= {f.rsplit("/", 1)[0] for f in files}
    assert not [f for f in files if f.startswith(("course/source", "course/hidden", "solutions", "course/grader"))
                or "instructor" in f or f.endswith(".db")]
    text = "\n".join((out / f).read_text(errors="replace") for f in files)
    assert "BEGIN SOLUTION" not in text and "HIDDEN" not in text
    from course_helpers import solution_cells
    for source in (COURSE / "source").rglob("*.ipynb"):
        for answer in solution_cells(source).values():
            assert answer.strip() not in text
    with pytest.raises(SystemExit, match="not empty"):
        commands.manage(["publish", "--out", str(out)])


def test_every_setup_cell_installs_without_changing_the_runtime():
    """The notebooks' install logic is compat/install_cell.py's (tested there against Colab-like
    stacks): every installed distribution pinned as a constraint, the plain install only as a
    fallback. It is inline because it runs before boxloc exists."""
    import ast
    import re
    reference = (COURSE.parent / "compat" / "install_cell.py").read_text()
    for path in sorted((COURSE / "release").rglob("*.ipynb")):
        setup = next(c for c in nbformat.read(path, as_version=4).cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
        ast.parse(setup.source)
        for fragment in ('re.fullmatch(r"[0-9][0-9A-Za-z.+!_-]*", version)',
                         're.sub(r"[-_.]+", "-", name).lower()', 'f"{name}=={version}"'):
            assert fragment in setup.source and fragment in reference, (path, fragment)
        assert re.search(r'pip \+ \["-c", constraints\.name, BOXLOC_PIP\]', setup.source), path
        assert "--upgrade" not in setup.source and "-U" not in setup.source.split()
