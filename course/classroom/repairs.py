"""Repairs of submitted notebooks before they are graded (``instructor.py grade``).

Each repair takes ``(nb, release_nb, name)``: the submitted notebook (changed in place), the
release notebook it answers, and the notebook's name for the report; it returns a list of
findings ``{'flag', 'notebook', 'cell', 'detail'}``. After them, every graded and locked cell
of the release is present once, with its type, and every locked cell (setup, visible checks)
has the release's source and points, so a notebook can only answer, not redefine the tests.

What is wrong is found by ``boxloc.selfcheck``, the checks the students' self-check cell runs
before they hand in; this module only mends it.
"""

import copy

import nbformat

from boxloc import selfcheck
from boxloc.selfcheck import grade_id

__all__ = ["REPAIRS", "repair", "finding", "grade_id"]

COLAB_NOTEBOOK_KEYS = ("colab", "accelerator", "gpuClass")
COLAB_CELL_KEYS = ("colab", "id", "outputId", "executionInfo", "cellView")


def finding(flag, notebook, cell, detail):
    return {"flag": flag, "notebook": notebook, "cell": cell, "detail": detail}


def _manifest(release_nb):
    return selfcheck.manifest(release_nb, assignment="", notebook="")


def strip_colab(nb, release_nb, name):
    """Remove Colab's notebook and cell metadata (reported as a note, not a flag)."""
    removed = [k for k in COLAB_NOTEBOOK_KEYS if nb.metadata.pop(k, None) is not None]
    for cell in nb.cells:
        removed += [k for k in COLAB_CELL_KEYS if cell.metadata.pop(k, None) is not None]
    return [finding("colab", name, None, "Colab metadata removed")] if removed else []


def drop_foreign_ids(nb, release_nb, name):
    """Unmark cells whose grade id is not in the release (nbgrader would crash on them)."""
    foreign = selfcheck.unknown_ids(nb, _manifest(release_nb))
    for cell in nb.cells:
        if "nbgrader" in cell.metadata and (grade_id(cell) is None or grade_id(cell) in foreign):
            del cell.metadata["nbgrader"]
    return [finding("unknown_id", name, gid, "grade id not in the release: unmarked")
            for gid in foreign]


def deduplicate(nb, release_nb, name):
    """nbgrader's DeduplicateIds (the last copy keeps the id), without its ``nbgrader: {}``."""
    from nbgrader.preprocessors import DeduplicateIds
    duplicated = selfcheck.duplicated_ids(nb)
    DeduplicateIds().preprocess(nb, {})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
    return [finding("duplicate", name, i, f"{n} cells with this id: the last one is graded")
            for i, n in duplicated.items()]


def set_cell_type(cell, cell_type):
    """Turn a cell into ``cell_type`` keeping its source (valid nbformat either way)."""
    cell.cell_type = cell_type
    for key in ("outputs", "execution_count", "attachments"):
        cell.pop(key, None)
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None


def restore_types(nb, release_nb, name):
    """Put back the release cell type of every marked cell whose type was changed."""
    changed = {gid: want for gid, _, want in selfcheck.changed_types(nb, _manifest(release_nb))}
    found = []
    for cell in nb.cells:
        if grade_id(cell) in changed and cell.cell_type != changed[grade_id(cell)]:
            found.append(finding("type_changed", name, grade_id(cell),
                                 f"{cell.cell_type} -> {changed[grade_id(cell)]}"))
            set_cell_type(cell, changed[grade_id(cell)])
    return found


def restore_locked(nb, release_nb, name):
    """Put back the release's source and nbgrader metadata of every locked cell (tests,
    setup), and report those whose source or points were changed."""
    from nbgrader.utils import is_locked
    released = {grade_id(c): c for c in release_nb.cells if grade_id(c) and is_locked(c)}
    detail = {"source": ("edited", "locked cell edited: original used"),
              "points": ("points", "points changed: original used")}
    found = [finding(detail[what][0], name, gid, detail[what][1])
             for gid, what in selfcheck.edited_locked(nb, _manifest(release_nb))]
    for cell in nb.cells:
        original = released.get(grade_id(cell))
        if original is not None:
            cell.source = original.source
            cell.metadata["nbgrader"] = copy.deepcopy(original.metadata["nbgrader"])
    return found


def restore_missing(nb, release_nb, name):
    """Put back deleted marked cells: a solution cell becomes an empty solution cell and a test
    cell returns with its release source, both just before the next surviving marked cell (code
    the student wrote elsewhere still runs first); a locked cell returns at its place."""
    from nbgrader.utils import is_grade, is_locked, is_solution
    order = [c for c in release_nb.cells if grade_id(c)]
    missing, found = set(selfcheck.missing_ids(nb, _manifest(release_nb))), []
    for k, original in enumerate(order):
        present = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
        gid = grade_id(original)
        if gid not in missing:
            continue
        cell = copy.deepcopy(original)
        if is_solution(original):
            cell.source = "# This solution cell was deleted from the submission (restored empty)."
            set_cell_type(cell, original.cell_type)
            flag, where = "missing_solution", _next_position(order[k + 1:], present, len(nb.cells))
        else:
            flag = "restored" if is_grade(original) else "restored_locked"
            at_its_place = is_locked(original) and not is_grade(original)
            where = (_previous_position(order[:k], present) if at_its_place
                     else _next_position(order[k + 1:], present, len(nb.cells)))
        _fresh_cell_id(cell, nb)
        nb.cells.insert(where, nbformat.from_dict(cell))
        found.append(finding(flag, name, gid, "deleted cell put back"))
    return found


def _fresh_cell_id(cell, nb):
    """Give an inserted cell an id unused in ``nb`` (none before nbformat 4.5, e.g. Colab's 4.0)."""
    cell.pop("id", None)
    if nb.nbformat_minor >= 5:
        taken = {c.get("id") for c in nb.cells}
        cell["id"] = next(f"restored-{n}" for n in range(len(taken) + 1)
                          if f"restored-{n}" not in taken)


def _next_position(later, present, end):
    return next((present[grade_id(c)] for c in later if grade_id(c) in present), end)


def _previous_position(earlier, present):
    return next((present[grade_id(c)] + 1 for c in reversed(earlier) if grade_id(c) in present), 0)


REPAIRS = (strip_colab, drop_foreign_ids, deduplicate, restore_types, restore_locked,
           restore_missing)


def repair(nb, release_nb, name):
    """Apply every repair to a submitted notebook (in place); returns the findings."""
    return [f for step in REPAIRS for f in step(nb, release_nb, name)]
