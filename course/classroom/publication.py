"""The one setting of where the course is published (``course/course.toml``) and every place
that repeats it: the install cell of each source notebook (``BOXLOC_PIP``'s default) and the
README's Open-in-Colab links. Release notebooks and solutions are generated from the sources, so
they follow. ``instructor.ipynb`` is not one of them: for a graded class the published repository
is the student edition, which holds no grader, so that notebook asks for the private course.

``apply(root)`` rewrites those places from the setting; ``mismatches(root)`` lists the files that
disagree with it (``manage.py generate`` / ``check``). ``publish(out)`` writes the student
edition that the setting points students to.
"""

import re
import shutil
from pathlib import Path

import nbformat

from .layout import COURSE, ROOT, CourseFolder

PIP_DEFAULT = re.compile(r'(BOXLOC_PIP = os\.environ\.get\("BOXLOC_PIP", ")([^"]*)("\))')
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w./-]+?"
                        r"/(course/release/[\w./-]+\.ipynb)")
OWNER_NAME = re.compile(r"^[\w.-]+/[\w.-]+$")


def settings(root):
    """{'repository': 'owner/name', 'branch': ...} from ``course/course.toml``, checked."""
    course = CourseFolder(Path(root) / "course")
    path, values = course.settings_file, course.settings.get("publish", {})
    repository, branch = values.get("repository", ""), values.get("branch", "main")
    if not OWNER_NAME.match(repository):
        raise SystemExit(f"{path}: [publish] repository must be a GitHub owner/name such as "
                         f"'my-university/boxloc', got {repository!r}")
    if not re.fullmatch(r"[\w./-]+", branch):
        raise SystemExit(f"{path}: [publish] branch {branch!r} is not a branch name")
    return {"repository": repository, "branch": branch}


def pip_spec(s):
    return f"git+https://github.com/{s['repository']}@{s['branch']}#subdirectory=lib"


def colab_link(s, notebook_path):
    return f"https://colab.research.google.com/github/{s['repository']}/blob/{s['branch']}/{notebook_path}"


def _rewrite(text, s):
    """``text`` with every published place set from the settings ``s``."""
    text = PIP_DEFAULT.sub(lambda m: m[1] + pip_spec(s) + m[3], text)
    return COLAB_LINK.sub(lambda m: colab_link(s, m[1]), text)


def _places(root):
    root = Path(root)
    return [*sorted(CourseFolder(root / "course").source.rglob("*.ipynb")), root / "README.md"]


def _cells_text(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells]


def mismatches(root):
    """Files that repeat the publication setting with another value (release and solutions are
    compared with their sources by ``manage.py check``)."""
    s, stale = settings(root), []
    for path in _places(root):
        texts = _cells_text(path) if path.suffix == ".ipynb" else [path.read_text()]
        if any(_rewrite(t, s) != t for t in texts):
            stale.append(str(path.relative_to(root)))
    return stale


def apply(root):
    """Write the setting into every place; returns the files changed."""
    s, changed = settings(root), []
    for path in _places(root):
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            new = [_rewrite(c.source, s) for c in nb.cells]
            if new != [c.source for c in nb.cells]:
                for cell, source in zip(nb.cells, new):
                    cell.source = source
                nbformat.write(nb, path)
                changed.append(path)
        else:
            text = path.read_text()
            if _rewrite(text, s) != text:
                path.write_text(_rewrite(text, s))
                changed.append(path)
    return changed


STUDENT_README = """# boxloc: anchor-based box localisation on brain MRI (student edition)

Four notebooks that teach how a RetinaNet-style detector finds brain tumours: anchors, the
network, training, inference and evaluation. Open each in Google Colab (the links below), run
the first cell (it installs the course library from `lib/`), and
work top to bottom. Cells marked *Your turn* are graded; the check cell under each says whether
your answer has the expected form and passes the visible checks.

| assignment | notebook |
|---|---|
{rows}

Before you start, *File > Save a copy in Drive*: Colab does not keep edits to a notebook opened
from GitHub; then rename your copy `<notebook> - <your student id>.ipynb` (`anchors -
jsmith42.ipynb`). To hand in, run the self-check cell at the end of the notebook (it says whether
the grader can read your notebook), then *File > Download > Download .ipynb* and upload the file
as the notebook's last section says. Each notebook says this again at its top and end.

This edition holds no solutions and no hidden tests: it is generated from the course repository
by `course/manage.py publish`.
"""
STUDENT_EDITION = ("lib", "course/release")      # everything a student needs, nothing else


def publish(out, course=COURSE):
    """Write the student edition into ``out``: the library and the release notebooks, with a
    README for students. No sources, hidden tests, solutions, gradebook or instructor tools:
    publish this for a graded class, the full repository for self-study."""
    out, course = Path(out), CourseFolder(course)
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: publish into a new folder (or a clean checkout "
                         "of the student repository)")
    litter = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints", "*.pyc")
    for part in STUDENT_EDITION:
        shutil.copytree(ROOT / part if part == "lib" else course.release, out / part, ignore=litter)
    where = settings(ROOT)
    rows = "\n".join(f"| {name} | [`course/release/{name}/{p.name}`](course/release/{name}/{p.name}) "
                     f"([Open in Colab]({colab_link(where, f'course/release/{name}/{p.name}')})) |"
                     for name in course.assignments()
                     for p in sorted((course.release / name).glob("*.ipynb")))
    (out / "README.md").write_text(STUDENT_README.format(rows=rows))
    print(f"student edition in {out}: {', '.join(STUDENT_EDITION)}, README.md")
    return 0
