"""Collect: the notebooks students downloaded from Colab -> ``submitted/<student>/<assignment>/``.

The student id comes from the file name: lower-cased, without ``.ipynb``, a leading ``Copy of``,
a trailing Drive ``(1)`` and the notebook or assignment name at its start or end; every run of
characters other than a-z and 0-9 becomes ``_`` (``Copy of anchors - Alice Smith.ipynb`` ->
``alice_smith``). When nothing is left (``anchors.ipynb``) the nearest enclosing folder's name is
used the same way (``alice/anchors.ipynb`` -> ``alice``). A ``--map`` CSV (columns ``file`` and
``student``) overrides the rule for the files it names. Nothing is ever extracted: a zip entry's
path only names a student, and each notebook is written under the release notebook's name.
"""

import csv
import stat
import zipfile
from pathlib import Path, PurePosixPath

import nbformat

from boxloc.selfcheck import clean_name, grade_id, student_id   # the rule the self-check cell shows
from grader.safe_text import shown        # course/ is on sys.path (instructor.py puts it there)

SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints")

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024    # a notebook larger than this is reported, not read


def source_files(source, refused=None):
    """(relative path, bytes) of every file in a folder or .zip, skipping OS and Jupyter litter.

    Nothing is extracted: a zip entry is only read (streamed, at most MAX_NOTEBOOK_BYTES, so a
    zip bomb costs nothing), and its path only names the student. Symbolic links (in a folder
    or stored in a zip) and oversized files are listed in ``refused`` as (path, status,
    reason) with status "link" or "too_large"."""
    source, refused = Path(source), refused if refused is not None else []
    entries = []
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                rel = PurePosixPath(info.filename)
                if info.is_dir() or _litter(rel):
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):
                    refused.append((str(rel), "link", "a symbolic link: not followed"))
                elif info.file_size > MAX_NOTEBOOK_BYTES:
                    refused.append((str(rel), "too_large", f"{info.file_size:,} bytes unpacked"))
                else:
                    with archive.open(info) as stream:
                        data = stream.read(MAX_NOTEBOOK_BYTES + 1)
                    if len(data) > MAX_NOTEBOOK_BYTES:
                        refused.append((str(rel), "too_large", "over the size limit"))
                    else:
                        entries.append((rel, data))
        return entries
    for path in sorted(source.rglob("*")):
        rel = PurePosixPath(path.relative_to(source).as_posix())
        if _litter(rel):
            continue
        if path.is_symlink():
            refused.append((str(rel), "link", "a symbolic link: not followed"))
        elif path.is_file() and path.stat().st_size > MAX_NOTEBOOK_BYTES:
            refused.append((str(rel), "too_large", f"{path.stat().st_size:,} bytes"))
        elif path.is_file():
            entries.append((rel, path.read_bytes()))
    return entries


def _litter(rel):
    """OS and Jupyter litter (``__MACOSX``, checkpoints, hidden files); ``..`` is not litter."""
    return any(part in SKIPPED_PARTS or (part.startswith(".") and part not in (".", ".."))
               for part in rel.parts)


def match_notebook(nb, relpath, releases):
    """Name of the release notebook a submitted notebook answers (by grade ids, then name)."""
    if len(releases) == 1:
        return next(iter(releases))
    ids = {grade_id(c) for c in nb.cells} - {None}
    overlap = {name: len(ids & {grade_id(c) for c in r.cells}) for name, r in releases.items()}
    best = max(overlap, key=overlap.get)
    if overlap[best]:
        return best
    stem = clean_name(relpath.stem, [])
    return next((name for name in releases if clean_name(name, []) in stem), None)


def read_map(path):
    """{source file: student id} from a CSV with the columns ``file`` and ``student``."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"file", "student"} <= set(rows[0]):
        raise SystemExit(f"{path}: expected a CSV with the columns 'file' and 'student'")
    mapping = {}
    for number, row in enumerate(rows, 2):
        student = clean_name(row["student"] or "", [])
        if not student:
            raise SystemExit(f"{path}, line {number}: no student id in {row['student']!r}")
        mapping[row["file"].strip()] = student
    return mapping


def collect(source, assignment, releases, course, force=False, mapping=None):
    """Copy the notebooks of SOURCE into ``submitted/<student>/<assignment>/``; returns a
    report {status: [(source file, destination or reason)]} and prints it. ``mapping``
    ({file: student}, by relative path or bare file name) overrides the naming rule."""
    course, names, mapping = Path(course), [*releases, assignment], mapping or {}
    report = {k: [] for k in ("copied", "replaced", "unchanged", "kept", "conflict",
                              "unmatched", "unreadable", "link", "too_large", "ignored")}
    planned, refused = {}, []
    files = source_files(source, refused)
    for rel, status, reason in refused:
        report[status].append((rel, reason))
    for rel, data in files:
        if rel.suffix != ".ipynb":
            report["ignored"].append((str(rel), "not a notebook"))
            continue
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        except Exception as error:  # any unreadable file is reported, never fatal
            report["unreadable"].append((str(rel), f"{type(error).__name__}: {error}"))
            continue
        sid = mapping.get(str(rel)) or mapping.get(rel.name) or student_id(rel, names)
        notebook = match_notebook(nb, rel, releases)
        if not sid or not notebook:
            reason = "no student id in the name" if not sid else "which notebook?"
            report["unmatched"].append((str(rel), reason))
            continue
        target = course / "submitted" / sid / assignment / f"{notebook}.ipynb"
        planned.setdefault(target, []).append((rel, data))
    for target, files in planned.items():
        report_key, note = place(target, files, force)
        for rel, _ in files:
            report[report_key].append((str(rel), note))
    print_collect_report(report)
    return report


def place(target, files, force):
    """Write one submission file; returns (report status, note)."""
    destination = str(target.relative_to(target.parents[3]))
    if len(files) > 1:
        listed = ", ".join(repr(str(rel)) for rel, _ in files)
        return "conflict", (f"{len(files)} files for {destination} ({listed}): none copied; rename "
                            "them or give each its student id with --map")
    data = files[0][1]
    if target.exists() and target.read_bytes() == data:
        return "unchanged", destination
    if target.exists() and not force:
        return "kept", f"{destination} exists and differs: kept (--force replaces it)"
    status = "replaced" if target.exists() else "copied"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return status, destination


def print_collect_report(report):
    """One line per file (every name through ``shown``: a file name is the student's text)."""
    for status, entries in report.items():
        for source, note in entries:
            arrow = status in ("copied", "replaced", "unchanged")
            print(f"{status:10s} {shown(source)}{' ->' if arrow else ':'} {shown(note)}")
    print(", ".join(f"{len(v)} {k}" for k, v in report.items() if v) or "no files found")


