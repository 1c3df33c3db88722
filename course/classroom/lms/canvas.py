"""Canvas: "Download Submissions" in, the gradebook's CSV import out.

The download (Canvas's ``lib/content_zipper.rb``) is a flat zip; each file is named
``<sortable name>[_LATE]_<user id>_<attachment id>_<display name>``: the sortable name
lower-cased with everything but letters, digits and ``_`` removed (``Smith, Alice`` ->
``smithalice``), ``_LATE`` when Canvas counts it late, the numeric user id (the gradebook CSV's
``ID``), the attachment's id (new for every upload, so later uploads have larger ids) and the
name the student gave the file, to which Canvas adds ``-1``, ``-2`` when they upload a file of
that name again. With anonymous grading the start is ``[LATE_]anon_<anonymous id>`` and no
name or user id is given.

The gradebook CSV (Grades > Export; imported back by Grades > Import): columns ``Student``
(``Smith, Alice``), ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per
assignment titled ``<name> (<assignment id>)``; its second row is ``Points Possible``. The import
matches students by ``ID`` and assignments by the id in the title, and takes changed cells only.

Assumptions where the sources are silent: a file name with no ``_<digits>_<digits>_`` part is
not Canvas's; Canvas's own late policy (if set) applies to imported scores, so the course's
``late_policy`` is applied only where the delay is known (never for Canvas: its download gives
no time).
"""

import re

from .common import (Entry, Person, Refused, column_matches, ident, is_notebook, number_rank,
                     split_name)

NAME, TITLE = "canvas", "Canvas"
NAMED = re.compile(r"(?P<head>.*?)_(?P<user>\d+)_(?P<attachment>\d+)_(?P<display>.+)", re.S)
ANONYMOUS = re.compile(r"(?P<late>LATE_)?anon_(?P<anon>[A-Za-z0-9]+)_(?P<attachment>\d+)_"
                       r"(?P<display>.+)", re.S)
REUPLOAD = re.compile(r"(?P<stem>.+)-(?P<n>\d+)(?P<suffix>\.[^.]*)?", re.S)
ASSIGNMENT_COLUMN = re.compile(r"(?P<title>.*\S)\s*\((?P<id>\d+)\)\s*")
POINTS_POSSIBLE = "Points Possible"
EXPORTS = True


def parse_name(name):
    """{key, name, late, attachment, display, reupload, prefix} of a file name in Canvas's
    download, or None if Canvas did not name it."""
    found = ANONYMOUS.fullmatch(name)
    if found:
        key, sortable, late = f"anon_{found['anon']}", "", bool(found["late"])
    else:
        found = NAMED.fullmatch(name)
        if not found:
            return None
        sortable, late = found["head"], found["head"].endswith("_LATE") or found["head"] == "LATE"
        sortable = sortable.removesuffix("_LATE") if sortable != "LATE" else ""
        key = found["user"]
    display, reupload = found["display"], 0
    again = REUPLOAD.fullmatch(display)
    if again:
        display, reupload = again["stem"] + (again["suffix"] or ""), int(again["n"][-6:])
    return {"key": key, "name": sortable, "late": late, "attachment": found["attachment"],
            "display": display, "reupload": reupload,
            "prefix": name[:len(name) - len(found["display"])]}


def recognises(rel):
    return is_notebook(rel) and parse_name(rel.name) is not None


def parse(files):
    """(entries, read, unmatched) of a download's files (see ``lms.parse``)."""
    entries, unmatched = [], []
    for rel, data, note in files:
        if not is_notebook(rel):
            continue
        found = parse_name(rel.name)
        if not found:
            unmatched.append((str(rel), "not named as Canvas names a submission "
                                        "(<name>_<user id>_<attachment id>_<file>)"))
            continue
        entries.append(Entry(rel, data, note, key=found["key"], name=found["name"],
                             display=found["display"], late=found["late"],
                             rank=(number_rank(found["attachment"]), found["reupload"]),
                             prefix=found["prefix"]))
    return entries, [], unmatched


# --- the gradebook CSV ------------------------------------------------------------------------
def is_gradebook(header):
    return {"Student", "ID"} <= set(header) and "Identifier" not in header


def roster(table):
    """[(record index, Person)] of the gradebook's students (the Points Possible row and rows
    without an ID left out)."""
    people = []
    for index, row in table.rows():
        if row.get("Student", "").strip() == POINTS_POSSIBLE or not row.get("ID", "").strip():
            continue
        last, comma, first = row["Student"].partition(",")
        if not comma:                                   # not "Last, First": first name first
            first, last = split_name(row["Student"])
        login = (row.get("SIS Login ID") or row.get("SIS User ID") or row["ID"]).strip()
        ids = (row["ID"], row.get("SIS User ID", ""), row.get("SIS Login ID", ""))
        people.append((index, Person(key=row["ID"].strip(), login=login,
                                     name=f"{first.strip()} {last.strip()}".strip(),
                                     first=first.strip(), last=last.strip(),
                                     identities=tuple(ident(i) for i in ids if i.strip()))))
    return people


def grade_column(table, assignment, notebooks, column=None):
    """(column index, points possible or None) of the assignment's column: ``column`` (its
    whole title, or the assignment id in it), else the one column whose title names the
    assignment."""
    candidates = [(i, ASSIGNMENT_COLUMN.fullmatch(title)) for i, title in enumerate(table.header)]
    candidates = [(i, m) for i, m in candidates if m]
    if column:
        chosen = [(i, m) for i, m in candidates if column in (m[0].strip(), m["id"], m["title"])]
    else:
        chosen = [(i, m) for i, m in candidates if column_matches(m["title"], assignment, notebooks)]
    if len(chosen) != 1:
        titles = [m[0].strip() for _, m in candidates]
        raise Refused(f"{'no' if not chosen else 'more than one'} assignment column of "
                      f"{table.name} {'is' if column else 'names'} "
                      f"{column or assignment}: pass --column with one of", titles)
    index, student = chosen[0][0], table.column("Student")
    for record in table.records[1:]:
        values = record.values()
        if student < len(values) and values[student].strip() == POINTS_POSSIBLE:
            return index, _number(values[index]) if index < len(values) else None
    return index, None


def _number(text):
    try:
        return float(text.strip())
    except ValueError:
        return None


def feedback_name(student, notebook):
    """Canvas's "Re-upload submissions" takes a zip of files named as its download named them
    (it reads the user and attachment ids from the name) and attaches each as a comment: the
    page goes back under the prefix of the file it grades. None for anonymous submissions
    (their names carry no user id)."""
    prefix = student.get("files", {}).get(notebook, {}).get("prefix", "")
    if not prefix or student.get("key", "").startswith("anon_"):
        return None
    return f"{prefix}{notebook}.html"
