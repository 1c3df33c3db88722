"""Collect: the notebooks students downloaded from Colab -> ``submitted/<student>/<assignment>/``.

The student id comes from the file name: lower-cased, without ``.ipynb``, a leading ``Copy of``,
a trailing Drive ``(1)`` and the notebook or assignment name at its start or end; every run of
characters other than a-z and 0-9 becomes ``_`` (``Copy of anchors - Alice Smith.ipynb`` ->
``alice_smith``). When nothing is left (``anchors.ipynb``) the nearest enclosing folder's name is
used the same way (``alice/anchors.ipynb`` -> ``alice``). A ``--map`` CSV (columns ``file`` and
``student``) overrides the rule for the files it names. Nothing is ever extracted: a zip entry's
path only names a student, and each notebook is written under the release notebook's name.

Nothing in a download stops collect: an entry or file that cannot be read, a folder that cannot
be listed (a path longer than the system allows), a destination that cannot be written are
reported and the rest is collected. A name that cannot serve as it is gets a deterministic
replacement, listed as ``renamed  original -> destination (why)``: a student id over
MAX_ID_LENGTH characters (a 300-character name, or one that Unicode normalisation expands, such
as 'ﬃ' -> 'ffi') keeps its start and gains a hash of the whole, so the same name always lands in
the same folder and two long names that share a start stay apart; a zip name without the UTF-8
flag that is not UTF-8 is read as cp437 (the zip standard's encoding); a name with control
characters or undecodable bytes is shown escaped (grader/safe_text.py); a path with ``..`` or an
absolute path only names the student.
"""

import csv
import hashlib
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

import nbformat

from boxloc.selfcheck import clean_name, grade_id, student_id   # the rule the self-check cell shows
from . import lms
from .grader.safe_text import shown, unsafe
from .layout import CourseFolder

SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints")

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024    # a notebook larger than this is reported, not read
MAX_ID_LENGTH = 64      # a student id is a folder name (at most 255 bytes) and a CSV cell
UTF8_NAME_FLAG = 0x800  # zip general purpose bit 11: the entry's name is UTF-8
STATUSES = ("copied", "replaced", "unchanged", "renamed", "superseded", "late", "kept",
            "conflict", "unmatched", "unlisted", "unreadable", "link", "too_large", "unwritable",
            "ignored")
PROBLEMS = ("kept", "conflict", "unmatched", "unlisted", "unreadable", "link", "too_large",
            "unwritable")


def source_files(source, refused=None):
    """(relative path, bytes, naming note) of every file in a folder or .zip, skipping OS and
    Jupyter litter; the note says how a zip name that is not UTF-8 was read ('' otherwise).

    Nothing is extracted: a zip entry is only read (streamed, at most MAX_NOTEBOOK_BYTES, so a
    zip bomb costs nothing), and its path only names the student. Symbolic links (in a folder
    or stored in a zip), oversized files and whatever cannot be read (an encrypted or damaged
    entry, a file or folder the system refuses) are listed in ``refused`` as (path, status,
    reason) with status "link", "too_large" or "unreadable"."""
    source, refused = Path(source), refused if refused is not None else []
    if zipfile.is_zipfile(source):
        return _zip_files(source, refused)
    return _folder_files(source, refused)


def _zip_files(source, refused):
    try:
        archive = zipfile.ZipFile(source)
    except Exception as error:  # e.g. names flagged UTF-8 that are not: the archive is unusable
        refused.append((source.name, "unreadable", f"the zip cannot be opened: {_reason(error)}"))
        return []
    entries = []
    with archive:
        for info in archive.infolist():
            name, note = _zip_name(info)
            rel = PurePosixPath(name)
            if info.is_dir() or _litter(rel):
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                refused.append((str(rel), "link", "a symbolic link: not followed"))
                continue
            if info.file_size > MAX_NOTEBOOK_BYTES:
                refused.append((str(rel), "too_large", f"{info.file_size:,} bytes unpacked"))
                continue
            try:
                with archive.open(info) as stream:
                    data = stream.read(MAX_NOTEBOOK_BYTES + 1)
            except Exception as error:  # encrypted, an unknown compression, a damaged entry
                refused.append((str(rel), "unreadable", _reason(error)))
                continue
            if len(data) > MAX_NOTEBOOK_BYTES:
                refused.append((str(rel), "too_large", "over the size limit"))
            else:
                entries.append((rel, data, note))
    return entries


def _zip_name(info):
    """(name, note) of a zip entry. Without the UTF-8 flag, zipfile reads names as cp437 (the
    standard's encoding), but most tools write UTF-8 there: UTF-8 is tried first, and a name
    that is not UTF-8 keeps its cp437 reading, noted. Backslashes, which some Windows tools
    write between folders, separate folders too."""
    name, note = info.filename, ""
    if not info.flag_bits & UTF8_NAME_FLAG:
        try:
            name = info.orig_filename.encode("cp437").decode("utf-8")   # the bytes, as UTF-8
        except UnicodeDecodeError:
            name, note = info.orig_filename, "the name is not UTF-8: read as cp437"
    return name.replace("\\", "/"), note


def _folder_files(source, refused):
    entries = []

    def unlistable(error):   # os.walk's report of a folder it cannot list (too long a path)
        refused.append((_relative(error.filename or source, source), "unreadable", _reason(error)))

    for folder, subfolders, files in os.walk(source, onerror=unlistable):   # links not followed
        for name in sorted(subfolders + files):
            path = Path(folder, name)
            rel = PurePosixPath(_relative(path, source))
            if _litter(rel):
                continue
            try:
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode):
                    refused.append((str(rel), "link", "a symbolic link: not followed"))
                elif stat.S_ISREG(info.st_mode) and info.st_size > MAX_NOTEBOOK_BYTES:
                    refused.append((str(rel), "too_large", f"{info.st_size:,} bytes"))
                elif stat.S_ISREG(info.st_mode):
                    entries.append((rel, path.read_bytes(), ""))
            except OSError as error:  # a path too long to open, a file the system refuses
                refused.append((str(rel), "unreadable", _reason(error)))
    return sorted(entries, key=lambda entry: entry[0].parts)


def _relative(path, source):
    return Path(os.path.relpath(path, source)).as_posix()


def _reason(error):
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}"


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


def short_id(sid):
    """``sid``, or when longer than MAX_ID_LENGTH characters its start and 8 hex digits of its
    sha256: the same long id always gives the same short one, and two long ids that share a
    start stay apart (ids are ASCII: characters are bytes)."""
    if not sid or len(sid) <= MAX_ID_LENGTH:
        return sid
    return f"{sid[:MAX_ID_LENGTH - 9]}_{hashlib.sha256(sid.encode()).hexdigest()[:8]}"


def renaming(rel, named, sid, note):
    """Why the file at ``rel`` is collected under another name than its own, or shown otherwise
    ('' if neither): ``named`` is the student id the rule gives, ``sid`` the one used, ``note``
    how a zip name was read."""
    reasons = [note] if note else []
    if sid != named:
        reasons.append(f"a student id of {len(named)} characters, cut to its start and a hash")
    if any(unsafe(c) for c in str(rel)):
        reasons.append("control characters or undecodable bytes in the name, shown escaped")
    if ".." in rel.parts or rel.is_absolute():
        reasons.append("a path with '..' or from the root, of which only the names are used")
    return "; ".join(reasons)


def read_map(path):
    """{source file: student id} from a CSV with the columns ``file`` and ``student``."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"file", "student"} <= set(rows[0]):
        raise SystemExit(f"{path}: expected a CSV with the columns 'file' and 'student'")
    mapping = {}
    for number, row in enumerate(rows, 2):
        student = short_id(clean_name(row["student"] or "", []))
        if not student:
            raise SystemExit(f"{path}, line {number}: no student id in {row['student']!r}")
        mapping[row["file"].strip()] = student
    return mapping


def collect(source, assignment, course, force=False, mapping=None, lms_name=None, roster=None,
            due=None):
    """Copy the notebooks of SOURCE into ``submitted/<student>/<assignment>/`` of the course
    folder ``course``; returns a report {status: [(source file, destination or reason)]} and
    prints it. ``mapping`` ({file: student}, by relative path or bare file name) overrides the
    naming rule.

    ``lms_name`` (one of ``lms.CHOICES``): SOURCE is that LMS's "download all submissions" (or
    recognised, ``auto``): each file's student is the LMS's (``lms.student_of``: with the
    ``roster`` file, the gradebook export or worksheet, their login; else the LMS's stable
    key), a student's older re-uploads or attempts are listed as ``superseded``, a submission
    after ``due`` (ISO text; default: ``[due]`` of course.toml) or marked late by the LMS is
    listed as ``late``, one whose student the roster lacks as ``unlisted`` (collected under the
    LMS's key), and what was learnt is recorded for grading, export and feedback
    (``reports/<assignment>/lms.json``)."""
    course = CourseFolder(course)
    releases = course.release_notebooks(assignment)
    names, mapping = [*releases, assignment], mapping or {}
    report = {k: [] for k in STATUSES}
    planned, refused = {}, []
    files = source_files(source, refused)
    for rel, status, reason in refused:
        report[status].append((rel, reason))
    if lms_name:
        candidates, context = _lms_candidates(files, assignment, course, lms_name, roster, due,
                                              report)
    else:
        candidates, context = [], None
        for rel, data, note in files:
            if rel.suffix != ".ipynb":
                report["ignored"].append((str(rel), "not a notebook"))
            else:
                candidates.append((rel, data, note, rel, student_id(rel, names), None))
    for rel, data, note, shown_as, named, entry in candidates:
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            notebook = match_notebook(nb, shown_as, releases)
        except Exception as error:  # any unreadable file is reported, never fatal
            report["unreadable"].append((str(rel), f"{type(error).__name__}: {error}"))
            continue
        named = mapping.get(str(rel)) or mapping.get(rel.name) or named
        sid = short_id(named)
        if not sid or not notebook:
            reason = "no student id in the name" if not sid else "which notebook?"
            report["unmatched"].append((str(rel), reason))
            continue
        target = course.submitted(sid, assignment) / f"{notebook}.ipynb"
        why = renaming(rel, named, sid, note)
        if why:
            report["renamed"].append((str(rel), f"{target.relative_to(course.path)} ({why})"))
        planned.setdefault(target, []).append((rel, data, entry))
    placed = {}
    for target, found in planned.items():
        found = _latest(found, report)
        report_key, note = place(target, [(rel, data) for rel, data, _ in found], force)
        for rel, _, _ in found:
            report[report_key].append((str(rel), note))
        if context and len(found) == 1 and report_key in ("copied", "replaced", "unchanged"):
            placed[target] = found[0][2]
    if context:
        _record(course, assignment, placed, context, report)
    print_collect_report(report)
    return report


def _lms_candidates(files, assignment, course, name, roster, due, report):
    """The notebooks of an LMS download as collect's candidates (rel, data, note, name the
    notebook is matched by, student id, the lms Entry), and the context the record needs;
    what the download holds besides is reported."""
    system = lms.system_named(name, files)
    entries, read, unmatched = system.parse(files)
    people = lms.read_roster(roster, system) if roster else None
    due = lms.parse_due(due) if due else _due_setting(course, assignment)
    print(f"{system.TITLE} download" + (" (recognised)" if name == lms.AUTO else "") +
          (f"; roster {shown(roster)}: {len(people)} students" if people is not None else "") +
          (f"; due {due.isoformat()}" if due else ""))
    report["ignored"] += read
    report["unmatched"] += unmatched
    handled = {rel for rel, _ in read} | {rel for rel, _ in unmatched}
    for rel, _, _ in files:
        if rel.suffix != ".ipynb" and str(rel) not in handled:
            report["ignored"].append((str(rel), "not a notebook"))
    candidates = []
    for entry in entries:
        sid, person = lms.student_of(entry, system, people)
        entry.extra["person"] = person
        candidates.append((entry.rel, entry.data, entry.note, PurePosixPath(entry.display),
                           sid, entry))
    return candidates, {"system": system, "roster": roster, "people": people, "due": due}


def _due_setting(course, assignment):
    """The due time of ``assignment`` in course.toml's ``[due]`` section (None if absent)."""
    text = course.settings.get("due", {}).get(assignment)
    return lms.parse_due(str(text)) if text else None


def _latest(found, report):
    """Of the files planned for one destination, the one to place: an LMS student's latest
    re-upload or attempt (the others listed as superseded); otherwise all of them (place
    reports two or more as a conflict)."""
    entries = [entry for _, _, entry in found]
    if len(found) < 2 or None in entries or len({e.key for e in entries}) > 1:
        return found
    ordered = sorted(found, key=lambda f: f[2].rank)
    latest = ordered[-1]
    for rel, _, _ in ordered[:-1]:
        report["superseded"].append((str(rel), f"a later one counts: {latest[0]}"))
    return [latest]


def _record(course, assignment, placed, context, report):
    """Record who each placed LMS submission is, list late and unlisted ones, and write the
    roster's names into the gradebook."""
    system, due, students = context["system"], context["due"], {}
    for target, entry in sorted(placed.items()):
        sid, notebook = target.parent.parent.name, target.stem
        person = entry.extra.get("person")
        details = lms.describe(entry, system, person, due, notebook)
        if sid in students:                 # another notebook of the same student
            earlier = students[sid]
            earlier["files"].update(details["files"])
            earlier["late"] = earlier["late"] or details["late"]
            earlier["late_minutes"] = max(filter(None, [earlier["late_minutes"],
                                                        details["late_minutes"]]), default=None)
        else:
            students[sid] = details
        if context["people"] is not None and person is None:
            report["unlisted"].append((str(entry.rel), (
                f"{system.TITLE} key {entry.key} is not in the roster {context['roster']}: "
                f"collected as {sid}")))
    for sid, details in sorted(students.items()):
        if details["late"]:
            source = next(iter(details["files"].values()))["source"]
            report["late"].append((source, f"{sid}: " + (
                lms.delay_text(details["late_minutes"]) if details["late_minutes"]
                else f"marked late by {system.TITLE}")))
    if students:
        lms.update_record(course.path, assignment, students)
        lms.name_students(course.path, assignment)


def place(target, files, force):
    """Write one submission file; returns (report status, note)."""
    destination = str(target.relative_to(target.parents[3]))
    if len(files) > 1:
        listed = ", ".join(repr(str(rel)) for rel, _ in files)
        return "conflict", (f"{len(files)} files for {destination} ({listed}): none copied; rename "
                            "them or give each its student id with --map")
    data = files[0][1]
    try:
        if target.exists() and target.read_bytes() == data:
            return "unchanged", destination
        if target.exists() and not force:
            return "kept", f"{destination} exists and differs: kept (--force replaces it)"
        status = "replaced" if target.exists() else "copied"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as error:  # e.g. a file where the student's folder should be, a full disk
        return "unwritable", f"{destination}: {_reason(error)}"
    return status, destination


def print_collect_report(report):
    """One line per file (every name through ``shown``: a file name is the student's text)."""
    for status, entries in report.items():
        for source, note in entries:
            arrow = status in ("copied", "replaced", "unchanged", "renamed")
            print(f"{status:10s} {shown(source)}{' ->' if arrow else ':'} {shown(note)}")
    print(", ".join(f"{len(v)} {k}" for k, v in report.items() if v) or "no files found")


