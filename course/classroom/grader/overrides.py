"""A teaching assistant's changed scores: who, when and why (trusted side).

``instructor.py override --assignment A --student S --exercise E --points P --reason TEXT``
appends an entry to the assignment's log (``CourseFolder.overrides``: ``overrides/<A>.json``)
and sets that test cell's *manual score* in the gradebook (what formgrader shows and export
reads; nbgrader's auto score stays the judge's). ``--remove`` appends an entry that ends the
override: the judge's score holds again. The log is append-only: the last entry of a
(student, exercise) is the one in force, the earlier ones are its history. Each entry::

    {"student", "notebook", "exercise", "points" (null: removed), "reason", "by" (the OS user
     or --by), "at" (UTC, ISO 8601), "automatic" (the judge's score when it was set)}

Export takes a manual score that the log has in force without ``--accept-manual-scores``, and
still refuses any other (``integrity.py``); feedback shows it with its reason; a regrade keeps
it (``apply`` sets it again after the gradebook is written).
"""

import json
from datetime import datetime, timezone

from ..layout import CourseFolder


def load(course, assignment):
    """Every entry of the assignment's log, oldest first ([] when there is none)."""
    path = CourseFolder(course).overrides(assignment)
    if not path.exists():
        return []
    entries = json.loads(path.read_text())
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SystemExit(f"{path}: expected a list of override entries")
    return entries


def in_force(entries):
    """{(student, exercise): entry} of the overrides in force (the last entry of each pair,
    unless it removed the override)."""
    last = {}
    for entry in entries:
        last[(entry["student"], entry["exercise"])] = entry
    return {key: entry for key, entry in last.items() if entry.get("points") is not None}


def of_student(course, assignment, student):
    """{exercise: entry} of one student's overrides in force."""
    return {exercise: entry for (who, exercise), entry in in_force(load(course, assignment)).items()
            if who == student}


def record(course, assignment, entry):
    """Append ``entry`` (with the time) to the log; returns the entry as written."""
    path = CourseFolder(course).overrides(assignment)
    entries = load(course, assignment)
    entry = dict(entry, at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    entries.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=1))
    return entry


def apply(gradebook, assignment, entries, students=None):
    """Set the gradebook's manual scores to the log's (only ``students`` when given): an
    override in force sets its points, one that was removed clears the manual score."""
    from nbgrader.api import MissingEntry
    last = {}
    for entry in entries:
        last[(entry["student"], entry["exercise"])] = entry
    for (student, exercise), entry in sorted(last.items()):
        if students is not None and student not in students:
            continue
        try:
            grade = gradebook.find_grade(exercise, entry["notebook"], assignment, student)
        except MissingEntry:              # not graded (yet): set when it is
            continue
        grade.manual_score = None if entry.get("points") is None else float(entry["points"])
    gradebook.db.commit()
