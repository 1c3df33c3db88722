"""The cells every assignment shares about working on Colab and handing in, and the manifest
that the self-check cell compares a student's notebook with.

Each source notebook gets, from this one place (``manage.py generate`` writes them,
``manage.py check`` fails while a notebook differs):

* ``before_you_start`` (locked markdown, after the intro): save a copy in Drive, name the file
  with your student id, the runtime, running from the top;
* ``how_to_hand_in`` (locked markdown, at the end): self-check, download, upload;
* ``self_check`` (locked code, last): ``boxloc.selfcheck.self_check(globals())``;
* ``metadata['boxloc']``: the manifest (``boxloc.selfcheck.manifest``) of the notebook's graded
  and locked cells and of the answers its exercises read (names only, from
  ``course/hidden/<assignment>.py``; no case and no expected value).

Where students upload comes from ``[handin] upload`` in ``course/course.toml``.
"""

import copy
from pathlib import Path

import nbformat

from boxloc import selfcheck

from .grader import spec
from .layout import CourseFolder

DEFAULT_UPLOAD = "the assignment page your teacher gave you"

BEFORE_YOU_START = """\
### Before you start

1. **Save your own copy.** In Colab, *File → Save a copy in Drive* before you type anything:
   Colab does not keep edits to a notebook opened from a link. Your copy is in *My Drive →
   Colab Notebooks*; open it from there next time.
2. **Name it with your student id.** *File → Rename* your copy to
   `{notebook} - <your student id>.ipynb` (for example `{notebook} - jsmith42.ipynb`): the grader
   reads your id from the file name.
3. **Run from the top.** Run the cells in order (the *Runs on* line above says whether to pick a
   GPU under *Runtime → Change runtime type* first). When Colab disconnects, your edits stay in
   your copy but the variables are gone: run the cells from the top again.

In Jupyter instead of Colab, install the course library once (`pip install ./lib` in the course
repository) and save with Ctrl+S."""

HOW_TO_HAND_IN = """\
## How to hand in

1. Run the **self-check** cell below, last. It reads your notebook (in Jupyter: save it first)
   and says whether the grader will be able to read it: every graded cell there once and of its
   type, the locked cells unchanged, your answers defined, your student id in the file name. It
   does not grade your answers; the check cell under each exercise shows the visible checks.
2. *File → Download → Download .ipynb*.
3. Upload the file to {upload}, keeping its name (`{notebook} - <your student id>.ipynb`)."""

SELF_CHECK = """\
# Self-check (locked): will the grader be able to read this notebook? Run it last, before you download.
from boxloc.selfcheck import self_check
self_check(globals());"""

SHARED = {  # grade id: (cell type, template, where)
    "before_you_start": ("markdown", BEFORE_YOU_START, "after intro"),
    "how_to_hand_in": ("markdown", HOW_TO_HAND_IN, "end"),
    "self_check": ("code", SELF_CHECK, "end"),
}


def settings(root):
    """``{'upload': ...}`` from ``[handin]`` in ``course/course.toml`` (a default when unset)."""
    values = CourseFolder(Path(root) / "course").settings.get("handin", {})
    upload = str(values.get("upload") or DEFAULT_UPLOAD).strip()
    return {"upload": upload}


def answers(course, assignment):
    """``(grade id, name, is function)`` of every answer the hidden file's exercises read."""
    path = CourseFolder(course).hidden_file(assignment)
    if not path.exists():
        return []
    return [(e.grade_id, e.record.name, e.record.calls) for e in spec.load(path)]


def _cell(grade_id, cell_type, source):
    make = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": grade_id, "locked": True,
                                 "schema_version": 3, "solution": False, "task": False}
    cell.pop("id", None)
    return cell


def updated(nb, course, assignment, stem, settings):
    """A copy of the source notebook ``nb`` (``<assignment>/<stem>.ipynb``) with the shared
    cells and the manifest as they should be."""
    nb = copy.deepcopy(nb)
    values = {"notebook": stem, **settings}
    shared = {gid: _cell(gid, kind, template.format(**values))
              for gid, (kind, template, _) in SHARED.items()}
    cells = [c for c in nb.cells if selfcheck.grade_id(c) not in SHARED]
    intro = next((i for i, c in enumerate(cells) if selfcheck.grade_id(c) == "intro"), -1)
    cells.insert(intro + 1, shared["before_you_start"])
    cells += [shared["how_to_hand_in"], shared["self_check"]]
    for old in nb.cells:                       # keep the cell ids a notebook already has
        for new in cells:
            if selfcheck.grade_id(new) in SHARED and selfcheck.grade_id(old) == selfcheck.grade_id(new):
                if "id" in old:
                    new["id"] = old["id"]
    nb.cells = cells
    nb.metadata["boxloc"] = selfcheck.manifest(nb, assignment, stem, answers(course, assignment))
    return nb


def _sources(root):
    course = CourseFolder(Path(root) / "course")
    for assignment in course.assignments():
        for path in course.source_notebooks(assignment):
            yield course.path, assignment, path


def _comparable(nb):
    return ([(c.cell_type, c.source, selfcheck.grade_id(c)) for c in nb.cells],
            nb.metadata.get("boxloc"))


def mismatches(root):
    """Source notebooks whose shared cells or manifest differ from what ``apply`` writes."""
    s, stale = settings(root), []
    for course, assignment, path in _sources(root):
        nb = nbformat.read(path, as_version=4)
        if _comparable(updated(nb, course, assignment, path.stem, s)) != _comparable(nb):
            stale.append(str(path.relative_to(root)))
    return stale


def apply(root):
    """Write the shared cells and the manifest into every source notebook; returns the
    files changed."""
    s, changed = settings(root), []
    for course, assignment, path in _sources(root):
        nb = nbformat.read(path, as_version=4)
        new = updated(nb, course, assignment, path.stem, s)
        if _comparable(new) != _comparable(nb):
            _fresh_ids(new)
            nbformat.write(new, path)
            changed.append(path)
    return changed


def _fresh_ids(nb):
    """Cell ids for the inserted cells (nbformat 4.5 requires one per cell, unique)."""
    taken = {c.get("id") for c in nb.cells}
    for cell in nb.cells:
        if not cell.get("id"):
            gid = selfcheck.grade_id(cell) or "cell"
            cell["id"] = next(f"{gid}-{n}".replace("_", "-") for n in range(1, 100)
                              if f"{gid}-{n}".replace("_", "-") not in taken)
            taken.add(cell["id"])
