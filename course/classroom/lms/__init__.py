"""Learning management systems: their submission downloads in, their gradebooks out.

Imports run one way, down this list:

    canvas.py      Canvas: the download's names, the gradebook CSV, the re-upload naming
    moodle.py      Moodle: submission folders, the grading worksheet, the feedback zip's folders
    blackboard.py  Blackboard Learn: attempt files and info files, Grade Center's offline file
    gradescope.py  Gradescope: submission folders and submission_metadata.yml, its roster
    common.py      what they share: a submitted file (Entry), a roster row (Person), ids, times,
                   the late policy
    table.py       a gradebook file written back with only its filled cells changed

This module holds what the course does with any of them: which LMS a download or a gradebook
comes from (``--lms auto``), who a submitted file belongs to (``student_of``), what collect
records about each student (``reports/<assignment>/lms.json``: the LMS, its key, the login and
name, the submission time, lateness, and how the download named the files, for feedback),
the late flags grading adds, the roster's names written into nbgrader's gradebook, and the
gradebook file export fills (``fill_gradebook``) and the feedback zip (``feedback_zip``).
"""

import json
import sys
import zipfile
from datetime import datetime
from pathlib import Path

from ..grader.safe_text import csv_cell, shown
from ..layout import CourseFolder
from . import blackboard, canvas, gradescope, moodle
from .common import (Refused, aware, delay_text, ident, late_policy, minutes_late,  # noqa: F401
                     parse_due, penalty_percent, split_name)
from .table import Table

SYSTEMS = {m.NAME: m for m in (canvas, moodle, blackboard, gradescope)}
AUTO = "auto"
CHOICES = [*SYSTEMS, AUTO]
EXPORTS = [name for name, m in SYSTEMS.items() if m.EXPORTS]
RECORD_VERSION = 1


# --- which LMS --------------------------------------------------------------------------------
def recognise(files):
    """The LMS whose naming most of ``files`` ((rel, data, note)) follow; SystemExit naming
    what was seen when none does, or two equally."""
    votes = {name: sum(1 for rel, _, _ in files if m.recognises(rel))
             for name, m in SYSTEMS.items()}
    best = max(votes.values(), default=0)
    winners = [name for name, count in votes.items() if count == best]
    if not best or len(winners) > 1:
        raise SystemExit("--lms auto: the download follows " + (
            "no LMS's naming" if not best else f"{' and '.join(winners)} equally") +
            f" ({len(files)} files); name its LMS with --lms {'|'.join(SYSTEMS)}")
    return SYSTEMS[winners[0]]


def system_named(name, files=None):
    if name == AUTO:
        return recognise(files or [])
    if name not in SYSTEMS:
        raise SystemExit(f"--lms {name!r}: one of {', '.join(CHOICES)}")
    return SYSTEMS[name]


def gradebook_system(name, table):
    """The LMS a roster or gradebook file comes from: ``name``, checked against the file's
    columns, or for ``auto`` recognised by them."""
    fitting = [m for m in SYSTEMS.values() if m.is_gradebook(table.header)]
    if name != AUTO:
        chosen = SYSTEMS[name]
        if chosen not in fitting:
            raise SystemExit(f"{table.name} does not look like {chosen.TITLE}'s gradebook "
                             f"(columns: {', '.join(map(shown, table.header[:8]))} ...)")
        return chosen
    if len(fitting) != 1:
        raise SystemExit(f"{table.name}: cannot tell which LMS's gradebook this is "
                         f"(columns: {', '.join(map(shown, table.header[:8]))} ...): "
                         f"pass --lms {'|'.join(SYSTEMS)}")
    return fitting[0]


def read_roster(path, system):
    """{LMS key: Person} of a roster file (the LMS's gradebook export or worksheet)."""
    table = Table.read(path)
    gradebook_system(system.NAME, table)
    people = {}
    for _, person in system.roster(table):
        people.setdefault(person.key, person)
    return people


def student_of(entry, system, roster=None):
    """(student id, Person or None) of a submitted file: with a roster that lists the file's
    student, the id is made of their login; otherwise of the LMS's stable key (Moodle: the
    full name)."""
    person = roster.get(entry.key) if roster else None
    if person:
        return ident(person.login or person.key), person
    return ident(entry.fallback or entry.key), None


# --- what collect records ---------------------------------------------------------------------
def read_record(course, assignment):
    path = CourseFolder(course).lms_record(assignment)
    if not path.exists():
        return {"version": RECORD_VERSION, "students": {}}
    return json.loads(path.read_text())


def update_record(course, assignment, students):
    """Merge ``students`` ({student id: details}) into the assignment's record."""
    record = read_record(course, assignment)
    for sid, details in students.items():
        record["students"][sid] = details
    path = CourseFolder(course).lms_record(assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True))
    return record


def describe(entry, system, person, due, notebook):
    """What the record keeps about a collected submission (see the module's docstring)."""
    time = entry.time or (person.time if person else None)
    minutes = minutes_late(time, due)
    late = bool(entry.late or minutes)
    name = (person.name if person and person.name else entry.name) or ""
    first, last = (person.first, person.last) if person and (person.first or person.last) \
        else split_name(name)
    return {"lms": system.NAME, "key": entry.key, "login": person.login if person else "",
            "name": name, "first": first, "last": last, "in_roster": person is not None,
            "submitted": aware(time).isoformat() if time else None,
            "due": due.isoformat() if due else None, "late": late,
            "late_minutes": minutes if late and minutes else None,
            "marked_late_by_lms": entry.late, "prefix": entry.prefix,
            "files": {notebook: {"source": str(entry.rel), "prefix": entry.prefix}}}


def late_findings(course, assignment):
    """{student: [the ``late`` finding]} of the students collect recorded as late; the finding's
    cell is the delay (``2h05m``; ``marked by Canvas`` where only the LMS knows)."""
    found = {}
    for sid, details in read_record(course, assignment)["students"].items():
        if not details.get("late"):
            continue
        minutes = details.get("late_minutes")
        title = SYSTEMS.get(details.get("lms"), canvas).TITLE
        where = delay_text(minutes) if minutes else f"marked by {title}"
        detail = (f"submitted {details.get('submitted')}, due {details.get('due')}"
                  if minutes else f"{title} marks it late (the download gives no time)")
        found[sid] = [{"flag": "late", "notebook": None, "cell": where, "detail": detail}]
    return found


def late_penalties(course, assignment):
    """{student: percent of the points taken off} under course.toml's ``[late_policy]``, for
    the late students whose delay is known."""
    folder = CourseFolder(course)
    policy = late_policy(folder.settings)
    penalties = {}
    for sid, details in read_record(course, assignment)["students"].items():
        percent = penalty_percent(details.get("late_minutes"), policy)
        if percent:
            penalties[sid] = percent
    return penalties


def name_students(course, assignment):
    """Write the recorded names (and LMS keys) of the assignment's students into nbgrader's
    gradebook (formgrader shows them); students without a name are left as they are."""
    from nbgrader.api import Gradebook
    students = read_record(course, assignment)["students"]
    folder = CourseFolder(course)
    if not students or not folder.gradebook.exists():
        return
    with Gradebook(folder.gradebook_url) as gradebook:
        for sid, details in sorted(students.items()):
            names = {k: details.get(v) for k, v in (("first_name", "first"), ("last_name", "last"))
                     if details.get(v)}
            gradebook.update_or_create_student(sid, lms_user_id=details.get("key"), **names)


# --- export: the instructor's gradebook, filled -----------------------------------------------
def fill_gradebook(system, out, rows, *, gradebook, record, assignment, notebooks, possible,
                   column=None, scale=False, leave_out_unlisted=False):
    """Write ``out``: the gradebook file ``gradebook`` with the assignment's column filled with
    each graded student's total (``rows`` as ``exporting.grade_rows`` makes them), every other
    byte as downloaded. Refuses (raises Refused, nothing written) when a graded student is not
    in the file or matches two of its rows (unless ``leave_out_unlisted``: they are left out
    and listed), or when the LMS's points possible differ from the assignment's ``possible``
    (unless ``scale``: totals are scaled to the LMS's points). Returns the lines to print."""
    table = Table.read(gradebook)
    gradebook_system(system.NAME, table)
    index, lms_points = system.grade_column(table, assignment, notebooks, column)
    factor = 1.0
    if lms_points is not None and abs(lms_points - possible) > 1e-9:
        if not scale:
            raise Refused(f"the {system.TITLE} column is worth {lms_points:g} points, the "
                          f"assignment {possible:g}: pass --scale to scale the totals to "
                          f"{lms_points:g}, or change the points in {system.TITLE}")
        factor = lms_points / possible
    people = system.roster(table)
    by_key = {}
    by_identity = {}
    for record_index, person in people:
        by_key.setdefault(person.key, []).append(record_index)
        for name in set(person.identities):
            by_identity.setdefault(name, []).append(record_index)
    students = record.get("students", {})
    changes, unlisted, empty, claimed = {}, [], [], {}
    for student, *_, total, _flags in rows:
        details = students.get(student, {})
        if details.get("lms") == system.NAME and details.get("key") in by_key:
            matches = by_key[details["key"]]
        else:
            matches = by_identity.get(student, [])
        if len(matches) != 1:
            why = "not in the gradebook" if not matches else \
                f"matches {len(matches)} rows of the gradebook"
            unlisted.append(f"{shown(student)}: {why}")
            continue
        if total is None:
            empty.append(f"{shown(student)}: not graded automatically (grade it in formgrader, "
                         "export again): left empty")
            continue
        claimed.setdefault(matches[0], []).append(student)
        changes[(matches[0], index)] = csv_cell(round(total * factor, 2))
    for record_index, claimants in claimed.items():
        if len(claimants) > 1:
            unlisted += [f"{shown(s)}: shares a gradebook row with "
                         f"{', '.join(map(shown, set(claimants) - {s}))}" for s in claimants]
            changes.pop((record_index, index))
    if unlisted and not leave_out_unlisted:
        raise Refused(f"{len(unlisted)} graded students cannot be placed in {table.name} "
                      "(download the gradebook again after enrolment changes, or pass "
                      "--leave-out-unlisted to write the others):", unlisted)
    Path(out).write_bytes(table.with_cells(changes))
    lines = [f"{len(changes)} students' totals -> column {shown(table.header[index])} of {out}"
             + (f" (scaled to {lms_points:g} points)" if factor != 1.0 else "")]
    lines += [f"left out: {line}" for line in unlisted] + empty
    untouched = len(people) - len(changes)
    if untouched:
        lines.append(f"{untouched} students of the gradebook have no graded submission: "
                     "their cells are as downloaded")
    return lines


# --- feedback ---------------------------------------------------------------------------------
def feedback_zip(system, out, pages, record):
    """Write the zip ``out`` of feedback pages ({(student, notebook): page path}) named as
    ``system`` takes them back; returns the students left out (with why)."""
    students = record.get("students", {})
    left_out, written = [], set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for (student, notebook), page in sorted(pages.items()):
            details = students.get(student)
            if not details or details.get("lms") != system.NAME:
                left_out.append(f"{shown(student)}: not collected from {system.TITLE}")
                continue
            name = system.feedback_name(details, notebook)
            if not name or name in written:
                left_out.append(f"{shown(student)}: {system.TITLE} cannot take it back "
                                + ("(anonymous)" if not name else f"({shown(name)} twice)"))
                continue
            written.add(name)
            info = zipfile.ZipInfo(name, date_time=datetime.now().timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, Path(page).read_bytes())
    return len(written), left_out


def print_lines(lines, stream=sys.stdout):
    for line in lines:
        print(line, file=stream)
