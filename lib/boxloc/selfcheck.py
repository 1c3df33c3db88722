"""Can the grader read this notebook? The checks a student runs before handing in, and the ones
the instructor's tools repair before grading (``course/classroom/repairs.py`` calls the same functions).

A notebook is a plain dict in nbformat 4 JSON (``nbformat.NotebookNode`` works too); pure
Python, no NumPy, TensorFlow or nbgrader. The release notebook carries a *manifest*
(``notebook['metadata']['boxloc']``, written by ``course/manage.py generate``) of its graded and
locked cells, so the check needs nothing but the student's own notebook::

    {"assignment": "01_anchors", "notebook": "anchors",
     "cells": [{"grade_id": "setup", "cell_type": "code", "locked": true, "grade": false,
                "solution": false, "points": 0, "digest": "<sha256 of the source>"}, ...],
     # (a digest for locked cells only: nothing about a solution is in the release)
     "answers": [{"grade_id": "test_iou", "name": "my_iou", "function": true}, ...]}

Each finding is a dict ``{'flag', 'cell', 'detail'}``; flags: ``unknown_id`` (a cell marked
with a grade id the release does not have), ``duplicate``, ``type_changed``, ``edited`` (a
locked cell's source), ``points``, ``missing`` (a graded or locked cell deleted), ``file_name``,
``undefined`` (an answer not defined in the kernel), ``unanswered`` (an answer cell that still
raises ``NotImplementedError``, a warning only) and ``error`` (a code cell whose last run ended in an
error: the grader can read the notebook, but the student should run all and fix it first).
"""

import hashlib
import json
import os
import re
import time
import unicodedata
import urllib.parse
import urllib.request
from pathlib import Path, PurePath, PurePosixPath

__all__ = ["manifest", "cell_problems", "student_id", "clean_name", "answer_problems",
           "error_cells", "colab_file_name", "current_notebook", "self_check", "grade_id",
           "normalised_source"]

MANIFEST_KEY = "boxloc"
WARNINGS = ("unanswered",)                 # findings that do not stop the grader
ERROR = "error"                            # a cell in error: not ready, though the grader reads it
SESSIONS_TIMEOUT = 1.5                     # seconds per socket operation of the sessions request


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def normalised_source(cell):
    """A cell's source without trailing spaces on its lines or blank lines around it (editors
    and Colab differ only there)."""
    return "\n".join(line.rstrip() for line in _source(cell).strip().splitlines())


def _digest(cell):
    return hashlib.sha256(normalised_source(cell).encode()).hexdigest()


def grade_id(cell):
    """The nbgrader grade id of a cell, or None."""
    return (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")


def manifest(release_nb, assignment, notebook, answers=()):
    """The manifest of a release notebook: its marked cells in order and the answers its
    exercises read (``answers``: ``(grade_id, name, is_function)`` triples)."""
    cells = []
    for cell in release_nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        if not meta.get("grade_id"):
            continue
        # nbgrader's rule: a test cell (graded, not a solution) is locked whatever its flag
        locked = not meta.get("solution") and bool(meta.get("grade") or meta.get("locked"))
        cells.append({"grade_id": meta["grade_id"], "cell_type": cell["cell_type"],
                      "locked": locked, "grade": bool(meta.get("grade")),
                      "solution": bool(meta.get("solution")),
                      "points": float(meta.get("points", 0)) if meta.get("grade") else 0.0,
                      "digest": _digest(cell) if locked else None})
    return {"assignment": assignment, "notebook": notebook, "cells": cells,
            "answers": [{"grade_id": g, "name": n, "function": bool(f)} for g, n, f in answers]}


def _finding(flag, cell, detail):
    return {"flag": flag, "cell": cell, "detail": detail}


# --- the cells --------------------------------------------------------------------------------
def unknown_ids(nb, manifest):
    """Grade ids marked in ``nb`` that the release does not have (a cell pasted from another
    notebook or assignment)."""
    known = {c["grade_id"] for c in manifest["cells"]}
    return [gid for gid in (grade_id(c) for c in nb["cells"]) if gid and gid not in known]


def duplicated_ids(nb):
    """{grade id: number of cells} for every id held by more than one cell (a copied cell)."""
    ids = [grade_id(c) for c in nb["cells"] if grade_id(c)]
    return {gid: ids.count(gid) for gid in sorted(set(ids)) if ids.count(gid) > 1}


def changed_types(nb, manifest):
    """``(grade_id, found type, release type)`` of every marked cell whose type was changed."""
    types = {c["grade_id"]: c["cell_type"] for c in manifest["cells"]}
    return [(gid, cell["cell_type"], types[gid]) for cell in nb["cells"]
            for gid in [grade_id(cell)] if gid in types and cell["cell_type"] != types[gid]]


def edited_locked(nb, manifest):
    """``(grade_id, what)`` for every locked cell whose source (``'source'``) or points
    (``'points'``) differ from the release."""
    released, edited = {c["grade_id"]: c for c in manifest["cells"] if c["locked"]}, []
    for cell in nb["cells"]:
        original = released.get(grade_id(cell))
        if original is None:
            continue
        if _digest(cell) != original["digest"]:
            edited.append((original["grade_id"], "source"))
        points = (cell["metadata"]["nbgrader"].get("points", -1) if original["grade"] else 0)
        try:
            changed = float(points) != original["points"]
        except (TypeError, ValueError):
            changed = True
        if changed:
            edited.append((original["grade_id"], "points"))
    return edited


def missing_ids(nb, manifest):
    """Grade ids of the release's marked cells that ``nb`` no longer has, in release order."""
    present = {grade_id(c) for c in nb["cells"]}
    return [c["grade_id"] for c in manifest["cells"] if c["grade_id"] not in present]


def cell_problems(nb, manifest):
    """Every finding about the notebook's cells against its release manifest."""
    kinds = {c["grade_id"]: c for c in manifest["cells"]}
    found = [_finding("unknown_id", gid, "this cell is marked as a cell of another notebook")
             for gid in unknown_ids(nb, manifest)]
    found += [_finding("duplicate", gid, f"{n} copies of this cell: keep exactly one")
              for gid, n in duplicated_ids(nb).items()]
    found += [_finding("type_changed", gid, f"this cell must be a {want} cell, it is {got}")
              for gid, got, want in changed_types(nb, manifest)]
    found += [_finding("edited" if what == "source" else "points", gid,
                       "this locked cell was changed: the grader uses the original"
                       if what == "source" else "this cell's points were changed")
              for gid, what in edited_locked(nb, manifest)]
    found += [_finding("missing", gid, "this answer cell was deleted" if kinds[gid]["solution"]
                       else "this cell was deleted") for gid in missing_ids(nb, manifest)]
    return found


def unanswered(nb, manifest):
    """Grade ids of answer cells that still raise ``NotImplementedError`` (a reminder)."""
    solutions = {c["grade_id"] for c in manifest["cells"] if c["solution"]}
    return [grade_id(c) for c in nb["cells"] if grade_id(c) in solutions
            and c["cell_type"] == "code" and "raise NotImplementedError" in _source(c)]


def _is_self_check(cell):
    return grade_id(cell) == "self_check" or "self_check(globals()" in _source(cell)


def error_cells(nb):
    """``(cell number, first line, error name)`` of every code cell whose outputs hold an error
    (``output_type: error``: the cell's last run raised), numbered from 1 over all the cells;
    the self-check cell itself is left out."""
    found = []
    for number, cell in enumerate(nb["cells"], start=1):
        if cell.get("cell_type") != "code" or _is_self_check(cell):
            continue
        errors = [o for o in cell.get("outputs") or [] if isinstance(o, dict)
                  and o.get("output_type") == "error"]
        if errors:
            first = next((line.strip() for line in _source(cell).splitlines() if line.strip()), "")
            first = first if len(first) <= 60 else first[:57] + "..."
            found.append((number, first, str(errors[0].get("ename") or "an error")))
    return found


# --- the file name ----------------------------------------------------------------------------
def clean_name(text, names):
    """Student id in one file or folder name: lower-cased, without ``.ipynb``, a leading ``Copy
    of``, a trailing Drive ``(1)`` and any of ``names`` (the notebook and assignment names) at
    its start or end; each run of characters other than a-z and 0-9 becomes ``_``
    (``Copy of anchors - Alice Smith`` -> ``alice_smith``). '' when nothing is left."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\.ipynb$", "", text)
    text = re.sub(r"\s*\(\d+\)\s*$", "", text)
    tokens = re.findall(r"[a-z0-9]+", text)
    while tokens[:2] == ["copy", "of"]:
        tokens = tokens[2:]
    name_tokens = sorted((re.findall(r"[a-z0-9]+", n.lower()) for n in names), key=len, reverse=True)
    changed = True
    while changed and tokens:
        changed = False
        for nt in name_tokens:
            if nt and tokens[:len(nt)] == nt:
                tokens, changed = tokens[len(nt):], True
            elif nt and len(tokens) > len(nt) and tokens[-len(nt):] == nt:
                tokens, changed = tokens[:-len(nt)], True
    return "_".join(tokens)


def student_id(relpath, names):
    """Student id of a file at ``relpath`` (a name or a relative path): its name's, else its
    nearest folder's (``alice/anchors.ipynb`` -> ``alice``); None when none has one."""
    relpath = PurePath(relpath)
    for candidate in [relpath.stem, *reversed(relpath.parts[:-1])]:
        sid = clean_name(candidate, names)
        if sid:
            return sid
    return None


# --- the kernel's answers ---------------------------------------------------------------------
def answer_problems(namespace, manifest):
    """Findings for the answers the exercises read that ``namespace`` (the notebook's globals)
    does not define, or defines as something else than a function where one is asked for."""
    found = []
    for answer in manifest["answers"]:
        name = answer["name"]
        if name not in namespace:
            found.append(_finding("undefined", answer["grade_id"],
                                  f"`{name}` is not defined: run its cell (or write it)"))
        elif answer["function"] and not callable(namespace[name]):
            found.append(_finding("undefined", answer["grade_id"],
                                  f"`{name}` must be a function, it is a "
                                  f"{type(namespace[name]).__name__}"))
    return found


# --- where the notebook is --------------------------------------------------------------------
# Colab no longer sends the file name in the notebook that ``get_ipynb`` returns (its
# ``metadata.colab.name`` went away early in 2023: wandb/wandb#4962, fixed by wandb/wandb#4987).
# What this relies on: wandb reads the name from the Jupyter server's sessions API (wandb/jupyter.py,
# ``notebook_metadata_from_jupyter_servers_and_kernel_id``: ``GET <server>/api/sessions``, keep
# the session whose ``kernel.id`` is the id in this kernel's connection file name
# ``kernel-<id>.json`` (``jupyter_servers_and_kernel_id``), read its ``notebook.name``); wandb
# finds the server with ``list_running_servers``. Colab's own variables name that server:
# ``http://$COLAB_JUPYTER_IP:$KMP_TARGET_PORT`` (drengskapur/colab2pdf reads the URL-decoded
# ``name`` of the first session there; a fixed address broke when Colab moved it,
# googlecolab/colabtools#3207). The code below is ours: the address from those variables only,
# the session of this kernel (else the only one), a short timeout, no proxy, never raises.
def _kernel_id():
    """This kernel's id, from its connection file's name (``kernel-<id>.json``), or None."""
    try:
        from ipykernel.connect import get_connection_file
        match = re.fullmatch(r"kernel-(.+)\.json", PurePath(get_connection_file()).name)
        return match[1] if match else None
    except Exception:                                         # noqa: BLE001 (not in a kernel)
        return None


def _http_get(url, timeout, limit=1 << 20):
    """The body of ``url`` (a local server: no proxy); raises on any failure, an HTTP error
    status, a body over ``limit`` bytes or a read still going after two timeouts."""
    deadline = time.monotonic() + 2 * timeout
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    token = os.environ.get("COLAB_JUPYTER_TOKEN")
    if token:
        request.add_header("Authorization", f"token {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as reply:
        body = b""
        while chunk := reply.read(65536):
            body += chunk
            if len(body) > limit or time.monotonic() > deadline:
                raise TimeoutError(f"{url} sent too much, too slowly")
    return body


def _session_file_name(sessions, kernel_id):
    """The file name in the sessions API's reply: the session of ``kernel_id``, else the only
    session; its ``name`` (Colab: the file name), else ``notebook.name``, else the last part of
    a ``path`` ending in ``.ipynb`` (Colab's path is ``fileId=...``). None when none fits."""
    if not isinstance(sessions, list):
        return None
    sessions = [s for s in sessions if isinstance(s, dict)]
    kernel = lambda s: s["kernel"].get("id") if isinstance(s.get("kernel"), dict) else None  # noqa: E731
    mine = [s for s in sessions if kernel_id and kernel(s) == kernel_id]
    session = mine[0] if mine else sessions[0] if len(sessions) == 1 else None
    if session is None:
        return None
    notebook = session["notebook"] if isinstance(session.get("notebook"), dict) else {}
    for value in (session.get("name"), notebook.get("name")):
        name = urllib.parse.unquote(value).strip() if isinstance(value, str) else ""
        if name:
            return name
    for value in (session.get("path"), notebook.get("path")):
        if isinstance(value, str) and not value.startswith("fileId="):
            name = PurePosixPath(urllib.parse.unquote(value).strip()).name
            if name.endswith(".ipynb"):
                return name
    return None


def colab_file_name(timeout=SESSIONS_TIMEOUT):
    """The notebook's file name from Colab's Jupyter sessions API
    (``http://$COLAB_JUPYTER_IP:$KMP_TARGET_PORT/api/sessions``), or None: the variables unset,
    the server unreachable, slow (``timeout`` seconds per operation), failing or answering
    something else than sessions. Never raises."""
    host, port = os.environ.get("COLAB_JUPYTER_IP"), os.environ.get("KMP_TARGET_PORT")
    if not host or not port:
        return None
    try:
        sessions = json.loads(_http_get(f"http://{host}:{port}/api/sessions", timeout))
        return _session_file_name(sessions, _kernel_id())
    except Exception:                                         # noqa: BLE001 (any failure: fall back)
        return None


def current_notebook():
    """``(notebook dict, file name or None, where)`` of the notebook this kernel runs, or
    ``(None, None, why not)``. Colab: the live notebook from the browser, its file name from
    Colab's sessions API (:func:`colab_file_name`), else from the notebook's metadata (older
    Colab). Jupyter and VS Code: the saved file (``JPY_SESSION_NAME`` / ``__vsc_ipynb_file__``),
    so save first."""
    try:
        from google.colab import _message                     # only inside Colab
    except ImportError:
        _message = None
    if _message is not None:
        try:
            nb = _message.blocking_request("get_ipynb", timeout_sec=20)["ipynb"]
        except Exception as error:                            # noqa: BLE001 (any Colab failure)
            return None, None, f"Colab did not send the notebook ({error})"
        name = colab_file_name() or (nb.get("metadata", {}).get("colab") or {}).get("name")
        return nb, name, "Colab (the notebook as you see it)"
    path = os.environ.get("JPY_SESSION_NAME")
    try:
        import __main__
        path = path or getattr(__main__, "__vsc_ipynb_file__", None)
    except ImportError:
        pass
    if not path or not path.endswith(".ipynb") or not Path(path).is_file():
        return None, None, "this kernel does not know its notebook file"
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return None, None, f"could not read {path} ({error})"
    return nb, Path(path).name, f"the saved file {Path(path).name} (save it before checking)"


# --- the cell ---------------------------------------------------------------------------------
def self_check(namespace, notebook=None, file_name=None):
    """Print whether the grader will be able to read this notebook; return the findings.

    ``namespace`` is the notebook's globals (``globals()`` in the cell). ``notebook`` (a dict or
    a path) and ``file_name`` default to :func:`current_notebook`. Never runs your code and
    never sees the grader's own tests: it compares the notebook with the release's manifest.
    """
    where = "the notebook given"
    if notebook is None:
        notebook, found_name, where = current_notebook()
        file_name = file_name or found_name
    elif not isinstance(notebook, dict):
        path = Path(notebook)
        notebook, file_name = json.loads(path.read_text(encoding="utf-8")), file_name or path.name
    if notebook is None:                      # nothing to read (e.g. a plain kernel)
        print(f"(The notebook could not be checked: {where}.)")
        return []
    info = notebook.get("metadata", {}).get(MANIFEST_KEY)
    if info is None:
        print("✗ This notebook has lost its course information (metadata): start again from a "
              "fresh copy of the assignment and paste your answers into it.")
        return [_finding("manifest", None, "no course metadata")]
    findings = cell_problems(notebook, info)
    findings += [_finding("unanswered", gid, "still raises NotImplementedError: not answered yet")
                 for gid in unanswered(notebook, info)]
    findings += answer_problems(namespace, info)
    findings += [_finding(ERROR, f"cell {number}", f"ended in {ename}: `{first}`")
                 for number, first, ename in error_cells(notebook)]
    sid = student_id(file_name, [info["notebook"], info["assignment"]]) if file_name else None
    if file_name and not sid:
        findings.append(_finding("file_name", None, f"the file name {file_name!r} holds no student "
                                 f"id: rename it, e.g. '{info['notebook']} - <your id>.ipynb'"))
    _report(findings, info, file_name, sid, where)
    return findings


def _report(findings, info, file_name, sid, where):
    blocking = [f for f in findings if f["flag"] not in WARNINGS and f["flag"] != ERROR]
    errors = [f for f in findings if f["flag"] == ERROR]
    flags = {f["flag"] for f in blocking}
    mark = lambda bad: "✗" if bad else "✓"                      # noqa: E731
    print(f"Checked {where}.")
    print(f"{mark(flags - {'undefined', 'file_name'})} {len(info['cells'])} graded and locked "
          "cells present once, with their type; locked cells unchanged")
    if info["answers"]:
        print(f"{mark('undefined' in flags)} answers defined: "
              + ", ".join(a["name"] for a in info["answers"]))
    print(f"{mark(errors)} " + (f"{_cells(len(errors))} ended in an error" if errors
                                else "no cell ended in an error"))
    if file_name:
        print(f"{mark(not sid)} file name {file_name!r}" + (f" -> student id {sid!r}" if sid else ""))
    else:
        print(f"? file name unknown (it could not be read here): rename it to "
              f"'{info['notebook']} - <your student id>.ipynb' (File > Rename) if it is not, and "
              "keep that name when you download")
    for f in findings:
        print(f"  {'!' if f['flag'] in WARNINGS else '✗'} {f['cell'] or 'notebook'}: {f['detail']}")
    if blocking:
        print("Fix the ✗ lines above (or start from a fresh copy and paste your answers), then run "
              "this cell again.")
    if errors:
        print(f"{_cells(len(errors))} ended in an error: run all (Runtime > Run all) and fix "
              f"{'them' if len(errors) > 1 else 'it'} before you hand in.")
    if not blocking and not errors:
        print("Ready to hand in.")


def _cells(n):
    return f"{n} cell{'s' if n != 1 else ''}"
