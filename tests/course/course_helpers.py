"""Helpers to grade notebooks with the course's grader (sandboxes + judge, nbgrader's release and
gradebook) in a throw-away copy of the course."""

import ast
import atexit
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import nbformat

from classroom import building, commands
from classroom.layout import COURSE, ROOT  # noqa: F401  (ROOT: for the tests)


def make_course(folder, assignments=None):
    """A copy of ``course/`` (source + config) in ``folder`` with every assignment (or those
    named) released as ``instructor.py release`` does (release, gradebook, and the snapshot
    export checks the gradebook against). Returns the course path.

    The release is generated once per test session (and per choice of ``assignments``) and
    copied from there: nbgrader's ``generate_assignment`` is the slow part, a copy is cheap."""
    key = None if assignments is None else tuple(sorted(assignments))
    if key not in _RELEASED:
        _RELEASED[key] = _released_course(key)
    course = Path(folder) / "course"
    shutil.copytree(_RELEASED[key], course)
    return course


_RELEASED = {}          # make_course's released courses: assignments (None: all) -> folder


def _released_course(assignments):
    scratch = Path(tempfile.mkdtemp(prefix="boxloc-released-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    course = copy_course(scratch)
    if assignments is not None:
        for kept in ("source", "hidden"):
            for other in (course / kept).iterdir():
                if other.stem not in assignments:
                    shutil.rmtree(other) if other.is_dir() else other.unlink()
    building.release(course)
    return course


def copy_course(folder):
    """``course/`` as an instructor keeps it (sources, hidden tests, config), release not
    generated; returns its path."""
    course = Path(folder) / "course"
    shutil.copytree(COURSE / "source", course / "source")
    shutil.copytree(COURSE / "hidden", course / "hidden",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(COURSE / "nbgrader_config.py", course)
    return course


@contextmanager
def fast_environment(course):
    """BOXLOC_FAST and a dataset cache beside the course copy, as the tests grade."""
    saved = {k: os.environ.get(k) for k in ("BOXLOC_FAST", "BOXLOC_DATA")}
    os.environ.update(BOXLOC_FAST="1", BOXLOC_DATA=str(Path(course).parent / "boxloc-data"))
    try:
        yield
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def grade(course, assignment, *options):
    """``instructor.py grade`` on the course copy in the fast configuration; returns its status."""
    with fast_environment(course):
        return commands.instructor(["grade", "--assignment", assignment, "--course", str(course),
                                    *options])


def fill(release_notebook, answers):
    """A copy of a release notebook with the solution cells named in ``answers`` (grade id ->
    code) replaced, as a student would."""
    nb = nbformat.read(release_notebook, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def submit(course, student, assignment, notebook):
    """Place a notebook object (or a path to copy) as a student's submission."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{assignment.split('_', 1)[1]}.ipynb"
    if isinstance(notebook, (str, Path)):
        shutil.copy(notebook, folder / name)
    else:
        nbformat.write(notebook, folder / name)


def release_points(assignment):
    """{grade id: points} of the committed release of ``assignment`` (test_assignments checks
    them against its own list)."""
    nb = next((COURSE / "release" / assignment).glob("*.ipynb"))
    meta = [c.metadata.get("nbgrader", {}) for c in nbformat.read(nb, as_version=4).cells]
    return {m["grade_id"]: m["points"] for m in meta if m.get("grade")}


def scores(course, assignment, student):
    """{grade id: score} of one student's autograded submission."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        return {grade.name: grade.score for notebook in submission.notebooks
                for grade in notebook.grades}


def solution_cells(source_notebook):
    """{grade id: code} of the solution cells of a source notebook, solution markers removed."""
    nb = nbformat.read(source_notebook, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: "\n".join(
                line for line in c.source.split("\n")
                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


# What a student could put in a file name, a grade id or a forged flag to reach the instructor's
# spreadsheet or terminal: formula starts, ANSI and OSC escape sequences, a bidi override.
HOSTILE_TEXTS = ['=HYPERLINK("http://x")', "+cmd", "@SUM(1)", "\t=1", "\x1b[31m",
                 "\x1b]8;;http://evil\x07", "\u202e"]


def control_characters(text, allowed="\n"):
    """The characters of ``text`` that must never reach a terminal or a report."""
    from classroom.grader.safe_text import unsafe
    return [c for c in text if unsafe(c) and c not in allowed]


def formula_cells(csv_text):
    """The cells of a CSV text that a spreadsheet could evaluate or that hold control characters."""
    import csv
    from classroom.grader.safe_text import FORMULA_STARTS
    return [cell for row in csv.reader(csv_text.splitlines()) for cell in row
            if cell.startswith(FORMULA_STARTS) or control_characters(cell, allowed="")]



# A toy assignment for the grader's mechanics (workers, shards, merging): two exercises, a
# notebook that runs in a second, a hidden file of a few lines. The real notebooks' grading is
# tests/course/test_assignments.py's.
TOY = "00_toy"
TOY_HIDDEN = '''"""Hidden cases of the toy assignment (tests/course/course_helpers.py)."""

from classroom.grader.spec import Exercise, call, value


def double_cases(rng):
    return [[2]] + [[int(n)] for n in rng.integers(-100, 100, 3)]


EXERCISES = [
    Exercise("test_double", call("double"), double_cases, expected=lambda x: 2 * x, visible=1),
    Exercise("test_letter", value("letter"), expected="b", kind="choice"),
]
'''


def _toy_notebook():
    def cell(source, **nbgrader):
        made = nbformat.v4.new_code_cell(source)
        made.metadata["nbgrader"] = {"schema_version": 3, "solution": False, "grade": False,
                                     "locked": False, "task": False, **nbgrader}
        return made
    return nbformat.v4.new_notebook(cells=[
        cell("import math", grade_id="setup", locked=True),
        cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
             grade_id="double", solution=True),
        cell("assert double(2) == 4", grade_id="test_double", grade=True, locked=True, points=2),
        cell('### BEGIN SOLUTION\nletter = "B"\n### END SOLUTION', grade_id="letter",
             solution=True),
        cell('assert letter.strip().lower() in "abc"', grade_id="test_letter", grade=True,
             locked=True, points=1)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})


def make_toy_course(folder):
    """A course holding the toy assignment alone, released (as ``make_course``). Returns its
    path; the notebook is ``release/00_toy/toy.ipynb``."""
    course = Path(folder) / "course"
    (course / "source" / TOY).mkdir(parents=True)
    nbformat.write(_toy_notebook(), course / "source" / TOY / "toy.ipynb")
    (course / "hidden").mkdir()
    (course / "hidden" / f"{TOY}.py").write_text(TOY_HIDDEN)
    shutil.copy(COURSE / "nbgrader_config.py", course)
    building.release(course)
    return course


# ---------------------------------------------------------------- answers judged in this process

def setup_namespace(release_notebook):
    """The globals a student's answers see after the notebook's setup cell, without running the
    cell: its import statements only (the rest installs the library on Colab, seeds, prints)."""
    nb = nbformat.read(release_notebook, as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    imports = [node for node in ast.parse(setup.source).body
               if isinstance(node, (ast.Import, ast.ImportFrom))]
    namespace = {}
    exec(compile(ast.Module(imports, type_ignores=[]), "setup", "exec"), namespace)
    return namespace


def record_here(entry, namespace):
    """An exercise's answer recorded from ``namespace`` as the sandbox's kernel records it
    (grader/driver.py, RECORD_CASE: the value, or the function applied to each case; plain data
    or the error), through JSON as the report carries it."""
    from classroom.grader import plain
    results = []
    for case in entry["cases"] if entry["calls"] else [None]:
        try:
            if entry["name"] not in namespace:
                raise NameError(entry["name"] + " is not defined")
            answer = namespace[entry["name"]]
            if entry["calls"]:
                helper = {}
                if entry["helper"]:
                    exec(compile(entry["helper"], "recorder", "exec"), helper)
                args = plain.from_plain(case)
                answer = helper["record_case"](answer, *args) if "record_case" in helper \
                    else answer(*args)
            result = {"ok": plain.to_plain(plain.answer_value(answer))}
        except plain.NotPlain as error:
            result = {"rejected": str(error)[:300]}
        except Exception as error:
            result = {"error": (type(error).__name__ + ": " + str(error))[:300]}
        results.append(json.loads(json.dumps(result)))
    return results


class JudgeHere:
    """The judge's verdicts on answers run in this process instead of a sandboxed notebook: the
    setup cell's imports, then the answer cells in the release's order; recorded as the kernel
    does, judged by ``judge.judge_student`` under the grading secret the tests grade with. For
    checks where the sandbox adds nothing (what a wrong answer scores); the grader end to end
    is test_assignments.py's ``graded``. Expected values are computed once per assignment."""

    def __init__(self, course=COURSE):
        self.course, self._plans = Path(course), {}

    def plan(self, assignment):
        if assignment not in self._plans:
            from classroom.grader import judge, plain, spec
            from classroom.grading import grading_secret
            exercises = spec.load(self.course / "hidden" / f"{assignment}.py")
            cases = {gid: [plain.to_plain(c) for c in drawn] for gid, drawn in
                     spec.draw_cases(exercises, grading_secret()).items()}
            release = next((self.course / "release" / assignment).glob("*.ipynb"))
            stubs = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(
                release, as_version=4).cells if c.metadata.get("nbgrader", {}).get("solution")}
            self._plans[assignment] = (exercises, spec.recording_plan(exercises, cases),
                                       *judge.expected_values(exercises, cases), release, stubs)
        return self._plans[assignment]

    def verdicts(self, assignment, answers):
        """{grade id: verdict} of the answers ({solution cell: code}; cells not given keep
        the release's stub)."""
        from classroom.grader import judge
        exercises, plan, expected, errors, release, stubs = self.plan(assignment)
        namespace = setup_namespace(release)
        for grade_id, stub in stubs.items():
            try:                             # a cell that fails leaves its names undefined
                exec(compile(answers.get(grade_id, stub), grade_id, "exec"), namespace)
            except Exception:
                pass
        recorded = {gid: record_here(entry, namespace) for gid, entry in plan.items()}
        return judge.judge_student(exercises, recorded, expected, errors)
