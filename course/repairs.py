"""Repairs of submitted notebooks before they are graded (``instructor.py grade``).

Each repair takes ``(nb, release_nb, name)``: the submitted notebook (changed in place), the
release notebook it answers, and the notebook's name for the report; it returns a list of
findings ``{'flag', 'notebook', 'cell', 'detail'}``. After them, every graded and locked cell
of the release is present once, with its type, and every locked cell (setup, visible checks)
has the release's source and points, so a notebook can only answer, not redefine the tests.
"""

import copy

import nbformat

__all__ = ["REPAIRS", "repair", "finding", "grade_id"]

COLAB_NOTEBOOK_KEYS = ("colab", "accelerator", "gpuClass")
COLAB_CELL_KEYS = ("colab", "id", "outputId", "executionInfo", "cellView")


def grade_id(cell):
    """The nbgrader grade id of a cell, or None."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def finding(flag, notebook, cell, detail):
    return {"flag": flag, "notebook": notebook, "cell": cell, "detail": detail}


def strip_colab(nb, release_nb, name):
    """Remove Colab's notebook and cell metadata (reported as a note, not a flag)."""
    removed = [k for k in COLAB_NOTEBOOK_KEYS if nb.metadata.pop(k, None) is not None]
    for cell in nb.cells:
        removed += [k for k in COLAB_CELL_KEYS if cell.metadata.pop(k, None) is not None]
    return [finding("colab", name, None, "Colab metadata removed")] if removed else []


def drop_foreign_ids(nb, release_nb, name):
    """Unmark cells whose grade id is not in the release (nbgrader would crash on them)."""
    known, found = {grade_id(c) for c in release_nb.cells} - {None}, []
    for cell in nb.cells:
        if "nbgrader" in cell.metadata and grade_id(cell) not in known:
            gid = grade_id(cell)
            del cell.metadata["nbgrader"]
            if gid:
                found.append(finding("unknown_id", name, gid, "grade id not in the release: unmarked"))
    return found


def deduplicate(nb, release_nb, name):
    """nbgrader's DeduplicateIds (the last copy keeps the id), without its ``nbgrader: {}``."""
    from nbgrader.preprocessors import DeduplicateIds
    ids = [grade_id(c) for c in nb.cells if grade_id(c)]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    DeduplicateIds().preprocess(nb, {})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
    return [finding("duplicate", name, i, f"{ids.count(i)} cells with this id: the last one is graded")
            for i in duplicated]


def set_cell_type(cell, cell_type):
    """Turn a cell into ``cell_type`` keeping its source (valid nbformat either way)."""
    cell.cell_type = cell_type
    for key in ("outputs", "execution_count", "attachments"):
        cell.pop(key, None)
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None


def restore_types(nb, release_nb, name):
    """Put back the release cell type of every marked cell whose type was changed."""
    types, found = {grade_id(c): c.cell_type for c in release_nb.cells if grade_id(c)}, []
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in types and cell.cell_type != types[gid]:
            found.append(finding("type_changed", name, gid, f"{cell.cell_type} -> {types[gid]}"))
            set_cell_type(cell, types[gid])
    return found


def _text(source):
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def restore_locked(nb, release_nb, name):
    """Put back the release's source and nbgrader metadata of every locked cell (tests,
    setup) whose source or points were changed, and report it."""
    from nbgrader.utils import is_grade, is_locked
    released, found = {grade_id(c): c for c in release_nb.cells if grade_id(c)}, []
    for cell in nb.cells:
        original = released.get(grade_id(cell))
        if original is None or not is_locked(original):
            continue
        if _text(cell.source) != _text(original.source):
            found.append(finding("edited", name, grade_id(cell), "locked cell edited: original used"))
        if is_grade(original) and float(cell.metadata["nbgrader"].get("points", -1)) != float(
                original.metadata["nbgrader"]["points"]):
            found.append(finding("points", name, grade_id(cell), "points changed: original used"))
        cell.source = original.source
        cell.metadata["nbgrader"] = copy.deepcopy(original.metadata["nbgrader"])
    return found


def restore_missing(nb, release_nb, name):
    """Put back deleted marked cells: a solution cell becomes an empty solution cell and a test
    cell returns with its release source, both just before the next surviving marked cell (code
    the student wrote elsewhere still runs first); a locked cell returns at its place."""
    from nbgrader.utils import is_grade, is_locked, is_solution
    order = [c for c in release_nb.cells if grade_id(c)]
    found = []
    for k, original in enumerate(order):
        present = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
        gid = grade_id(original)
        if gid in present:
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
