"""Blackboard Learn: an assignment's "Download Assignment" in, Grade Center's "work offline"
upload out.

The download names every file of an attempt ``<Assignment>_<username>_attempt_<YYYY-MM-DD-
HH-MM-SS>_<file name>`` and adds one info file per attempt, ``<Assignment>_<username>_attempt_
<time>.txt``, whose lines name the student (``Name: Alice Smith (asmith1)``), the times and each
file (``Original filename: anchors.ipynb`` / ``Filename: <the name in the zip>``). The time is
the attempt's, in the server's time zone (no offset is written): the latest attempt counts.

The username comes from the info file; without one, from the name: the part before
``_attempt_`` with the assignment's name removed, the assignment's name being what the info
files show, else the start the download's names share, else everything up to the last ``_``
(a username with ``_`` and no info file then loses its start: the report shows the id).

Grade Center's download (Work Offline > Download, "Full Grade Center"; comma- or tab-separated,
the latter as UTF-16 text in an ``.xls``) has ``Last Name``, ``First Name``, ``Username``,
``Student ID`` ..., then one column per item titled ``<name> [Total Pts: <points> <kind>]
|<column id>`` (``Anchors [Total Pts: 21 Score] |664617``). The upload matches rows by
``Username`` and columns by the id after ``|``.

Assumptions: the attempt times are in this computer's time zone (pass ``--due`` with an offset
otherwise); there is no bulk feedback upload: feedback goes back as one page per username.
"""

import re
from datetime import datetime

from .common import Entry, Person, Refused, column_matches, ident, is_notebook

NAME, TITLE = "blackboard", "Blackboard"
ATTEMPT = re.compile(r"(?P<head>.+)_attempt_(?P<time>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)"
                     r"(?:_(?P<file>.+))?", re.S)
INFO_NAME = re.compile(r"^Name:\s*(?P<name>.*?)\s*\((?P<username>[^()]*)\)\s*$", re.M)
ORIGINAL = re.compile(r"^\s*Original filename:\s*(?P<original>.*?)\s*$\s*^\s*Filename:\s*"
                      r"(?P<stored>.*?)\s*$", re.M)
ITEM_COLUMN = re.compile(r"(?P<title>.*?)\s*\[Total Pts:\s*(?P<points>[\d.,]+)[^\]]*\]\s*"
                         r"\|\s*(?P<id>\d+)\s*")
EXPORTS = True


def parse_name(name):
    """{head, time, file} of a name in Blackboard's download (file None for the info .txt),
    or None."""
    stem = name[:-4] if name.endswith(".txt") else None
    for text, info in ((stem, True), (name, False)):
        found = ATTEMPT.fullmatch(text) if text else None
        if found and (found["file"] is None) == info:
            return {"head": found["head"], "time": found["time"], "file": found["file"]}
    return None


def recognises(rel):
    return is_notebook(rel) and parse_name(rel.name) is not None


def _time(text):
    try:
        return datetime.strptime(text, "%Y-%m-%d-%H-%M-%S")
    except ValueError:
        return None


def parse(files):
    infos, read, unmatched = {}, [], []
    for rel, data, note in files:
        found = parse_name(rel.name)
        if found and found["file"] is None:
            text = data.decode("utf-8", "replace")
            who = INFO_NAME.search(text)
            originals = {m["stored"]: m["original"] for m in ORIGINAL.finditer(text)}
            infos[(found["head"], found["time"])] = (who, originals)
            read.append((str(rel), "Blackboard's attempt information: read"))
    assignments = {head[:-len(who["username"]) - 1] for (head, _), (who, _) in infos.items()
                   if who and who["username"] and head.endswith("_" + who["username"])}
    heads = {parse_name(rel.name)["head"] for rel, _, _ in files
             if is_notebook(rel) and parse_name(rel.name)}
    entries = []
    for rel, data, note in files:
        if not is_notebook(rel):
            continue
        found = parse_name(rel.name)
        time = _time(found["time"]) if found else None
        if not found or time is None:
            unmatched.append((str(rel), "not named as Blackboard names an attempt's file "
                                        "(<assignment>_<username>_attempt_<time>_<file>)"))
            continue
        who, originals = infos.get((found["head"], found["time"]), (None, {}))
        username = who["username"].strip() if who and who["username"].strip() else \
            _username(found["head"], assignments, heads)
        entries.append(Entry(rel, data, note, key=username,
                             name=who["name"].strip() if who else "",
                             display=originals.get(rel.name, found["file"]), time=time,
                             rank=(time,), prefix=rel.name[:len(rel.name) - len(found["file"])]))
    return entries, read, unmatched


def _username(head, assignments, heads):
    """The username in ``<Assignment>_<username>`` (see the module's docstring)."""
    for assignment in sorted(assignments, key=len, reverse=True):
        if head.startswith(assignment + "_") and len(head) > len(assignment) + 1:
            return head[len(assignment) + 1:]
    if len(heads) > 1:
        shared = _shared_start(heads)
        if shared and all(len(h) > len(shared) for h in heads):
            return head[len(shared):]
    return head.rsplit("_", 1)[-1]


def _shared_start(heads):
    """The longest start all ``heads`` share that ends with ``_``."""
    first, last = min(heads), max(heads)
    common = 0
    while common < min(len(first), len(last)) and first[common] == last[common]:
        common += 1
    return first[:first.rfind("_", 0, common) + 1] if "_" in first[:common] else ""


# --- Grade Center -----------------------------------------------------------------------------
def is_gradebook(header):
    return "Username" in header and ("Last Name" in header or "First Name" in header)


def roster(table):
    people = []
    for index, row in table.rows():
        username = row.get("Username", "").strip()
        if not username:
            continue
        first, last = row.get("First Name", "").strip(), row.get("Last Name", "").strip()
        ids = (username, row.get("Student ID", ""))
        people.append((index, Person(key=username, login=username,
                                     name=f"{first} {last}".strip(), first=first, last=last,
                                     identities=tuple(ident(i) for i in ids if i.strip()))))
    return people


def grade_column(table, assignment, notebooks, column=None):
    """(column index, the points in its title) of the assignment's item column: ``column``
    (its whole title, its name, or the id after ``|``), else the one whose name names the
    assignment."""
    items = [(i, ITEM_COLUMN.fullmatch(title)) for i, title in enumerate(table.header)]
    items = [(i, m) for i, m in items if m]
    if column:
        chosen = [(i, m) for i, m in items if column in (m[0].strip(), m["title"], m["id"])]
    else:
        chosen = [(i, m) for i, m in items if column_matches(m["title"], assignment, notebooks)]
    if len(chosen) != 1:
        raise Refused(f"{'no' if not chosen else 'more than one'} Grade Center column of "
                      f"{table.name} {'is' if column else 'names'} {column or assignment}: "
                      "pass --column with one of", [m[0].strip() for _, m in items])
    index, found = chosen[0]
    try:
        return index, float(found["points"].replace(",", "."))
    except ValueError:
        return index, None


def feedback_name(student, notebook):
    key = student.get("key", "")
    return f"{key}/{notebook}.html" if key else None
