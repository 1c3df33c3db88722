"""Every path of a course folder, and the one reader of its settings file ``course.toml``.

A course folder (``course/`` in the repository, or any copy an instructor grades in)::

    course.toml            where the course is published, where students hand in
    nbgrader_config.py     nbgrader's settings (its preprocessors)
    source/<assignment>/   the notebooks with solutions (what the course is written in)
    hidden/<assignment>.py the hidden cases and how each exercise is judged (grader/spec.py)
    release/<assignment>/  the students' notebooks (``instructor.py release`` / ``manage.py generate``)
    gradebook.db           nbgrader's gradebook (reports/release-snapshot.json: as released)
    submitted/<student>/<assignment>/   notebooks as collected
    repaired/<student>/<assignment>/    the repaired copies that are graded
    autograded/<student>/<assignment>/  the executed copies a TA opens
    reports/<assignment>/  grading.json (flags), results.json (verdicts), shards/, lms.json
                           (who each LMS submission is: key, login, name, time, lateness),
                           similarity.csv and .html (similar answers, for a person to read)
    overrides/<assignment>.json  a teaching assistant's changed scores: who, when, why
    feedback/<student>/<assignment>/    one HTML page per notebook

Every module of the course tools asks this one for a path; none joins these names itself.
"""

import re
from functools import cached_property
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
COURSE = PACKAGE.parent                 # the repository's course folder (the default --course)
ROOT = COURSE.parent                    # the repository
SOLUTIONS = ROOT / "solutions"          # the executed solutions (self-study edition)
SETTINGS_FILE = "course.toml"


class CourseFolder:
    """The paths of the course folder ``path`` (nothing is created or read until asked)."""

    def __init__(self, path=COURSE):
        self.path = Path(path)

    def __repr__(self):
        return f"CourseFolder({str(self.path)!r})"

    # what the course is built from
    @property
    def settings_file(self):
        return self.path / SETTINGS_FILE

    @property
    def nbgrader_config(self):
        return self.path / "nbgrader_config.py"

    @property
    def source(self):
        return self.path / "source"

    @property
    def hidden(self):
        return self.path / "hidden"

    def hidden_file(self, assignment):
        return self.hidden / f"{assignment}.py"

    def assignments(self):
        """Names of the assignments in ``source/``, in order."""
        return sorted(p.name for p in self.source.iterdir() if p.is_dir())

    def source_notebooks(self, assignment):
        return sorted((self.source / assignment).glob("*.ipynb"))

    # what is built and graded
    @property
    def release(self):
        return self.path / "release"

    def release_notebooks(self, assignment):
        """{notebook name: release notebook} of an assignment (``release`` must have run)."""
        import nbformat
        folder = self.release / assignment
        paths = sorted(folder.glob("*.ipynb"))
        if not paths:
            raise SystemExit(f"no release notebooks in {folder}: run the 'release' command first")
        return {p.stem: nbformat.read(p, as_version=4) for p in paths}

    @property
    def gradebook(self):
        return self.path / "gradebook.db"

    @property
    def gradebook_url(self):
        """The gradebook as nbgrader's ``Gradebook(...)`` opens it."""
        return f"sqlite:///{self.gradebook}"

    @property
    def release_snapshot(self):
        """What the gradebook held after ``release`` (grader/integrity.py)."""
        return self.path / "reports" / "release-snapshot.json"

    def submitted(self, student=None, assignment=None):
        return _under(self.path / "submitted", student, assignment)

    def repaired(self, student=None, assignment=None):
        return _under(self.path / "repaired", student, assignment)

    def autograded(self, student=None, assignment=None):
        return _under(self.path / "autograded", student, assignment)

    def feedback(self, student=None, assignment=None):
        return _under(self.path / "feedback", student, assignment)

    def reports(self, assignment):
        return self.path / "reports" / assignment

    def grading_report(self, assignment):
        """Flags and repairs per student."""
        return self.reports(assignment) / "grading.json"

    def results(self, assignment):
        """Verdicts, test cells' output and seconds per student and notebook."""
        return self.reports(assignment) / "results.json"

    def shards(self, assignment):
        return self.reports(assignment) / "shards"

    def lms_record(self, assignment):
        """What collect learnt from an LMS download about each student (lms/__init__.py)."""
        return self.reports(assignment) / "lms.json"

    def similarity_csv(self, assignment):
        """The most similar pairs of answers per exercise (``similarity.py``)."""
        return self.reports(assignment) / "similarity.csv"

    def similarity_report(self, assignment):
        return self.reports(assignment) / "similarity.html"

    def overrides(self, assignment):
        """The log of scores a teaching assistant set (``grader/overrides.py``); kept apart
        from reports/, which grading rewrites."""
        return self.path / "overrides" / f"{assignment}.json"

    # course.toml
    @cached_property
    def settings(self):
        """``{section: {key: value}}`` of ``course.toml`` ({} when the file is absent)."""
        if not self.settings_file.exists():
            return {}
        try:
            return read_toml(self.settings_file.read_text())
        except ValueError as error:           # tomllib.TOMLDecodeError is a ValueError
            raise SystemExit(f"{self.settings_file}: {error}") from None


def _under(top, student, assignment):
    path = top if student is None else top / student
    return path if assignment is None else path / assignment


def read_toml(text):
    """TOML as a dict: ``tomllib`` where Python has it (3.11+), else ``read_simple_toml``."""
    try:
        import tomllib
    except ImportError:                       # Python 3.10
        return read_simple_toml(text)
    return tomllib.loads(text)


def read_simple_toml(text):
    """The subset of TOML that ``course.toml`` uses: ``[section]`` headers and
    ``key = "string"`` lines, with comments; anything else is an error naming the line."""
    values = {}
    section = values
    for number, line in enumerate(text.splitlines(), 1):
        header = re.fullmatch(r"\s*\[([\w-]+)\]\s*(#.*)?", line)
        pair = re.fullmatch(r'\s*([\w-]+)\s*=\s*"([^"\\]*)"\s*(#.*)?', line)
        if header:
            section = values.setdefault(header[1], {})
        elif pair:
            section[pair[1]] = pair[2]
        elif line.strip() and not line.strip().startswith("#"):
            raise ValueError(f"{SETTINGS_FILE} line {number}: expected [section] or "
                             f'key = "text" (Python 3.10 reads no more of TOML), got {line!r}')
    return values
