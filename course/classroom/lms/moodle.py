"""Moodle: an assignment's "Download all submissions" in, its offline grading worksheet out.

The download (``mod/assign``'s ``download_submissions``) names each student's files after
``<Full Name>_<participant id>_assignsubmission_file``: by default as a folder (``Alice
Smith_1234567_assignsubmission_file_/anchors.ipynb``; Moodle 4.1 and later drop the last
``_``), or flat with the file name appended (``..._assignsubmission_file_anchors.ipynb``) when
"Download submissions in folders" is off. Moodle turns ``_`` in names into spaces. With blind
marking the name is ``Participant``. The participant id is Moodle's per-assignment id of the
student (``assign_user_mapping``): it differs between assignments, so without a roster the
student id is made of the full name (of ``participant <id>`` under blind marking, which hides
names by design).

The grading worksheet (Grading action > Download grading worksheet; uploaded back by Upload
grading worksheet) is a CSV with ``Identifier`` (``Participant 1234567``: the same participant
id), ``Full name``, ``Email address`` (and the other identity fields the site shows, such as
``Username``), ``Status``, ``Grade``, ``Maximum Grade``, ``Grade can be changed``, ``Last
modified (submission)``, ``Last modified (grade)``, ``Feedback comments``. The upload
(``assignfeedback_offline``) finds ``Identifier``, ``Grade`` and ``Last modified (grade)`` by
their (English) titles and reads the participant id after the word ``Participant``.

Feedback files go back as a zip in the download's folder naming (``assignfeedback_file``'s
import reads the participant id from the second ``_``-separated part of the folder's name).

Assumptions: the column titles are the English ones (``--column`` names another grade
column); "Last modified (submission)" is read as Moodle's English default date format (for
``--due``), and where it cannot be read no time is known.
"""

import re
from datetime import datetime

from .common import Entry, Person, Refused, digits_at_end, ident, is_notebook, split_name

NAME, TITLE = "moodle", "Moodle"
PART = re.compile(r"(?P<who>[^_/]*)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)"
                  r"(?:_(?P<rest>.*))?", re.S)
BLIND = "participant"          # the name of every student under blind marking (English)
GRADE, MAXIMUM = "Grade", "Maximum Grade"
SUBMITTED = "Last modified (submission)"
DATE_FORMATS = ("%A, %d %B %Y, %I:%M %p", "%A, %d %B %Y, %H:%M", "%d/%m/%Y, %H:%M",
                "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
EXPORTS = True


def parse_path(rel):
    """{who, pid, display, prefix} of a path in Moodle's download, or None."""
    for depth, part in enumerate(rel.parts):
        found = PART.fullmatch(part)
        if not found or found["plugin"] != "file":
            continue
        last = depth == len(rel.parts) - 1
        if last and not found["rest"]:
            return None                          # a folder's name alone is no file
        display = found["rest"] if last else rel.name
        return {"who": found["who"].strip(), "pid": found["pid"], "display": display,
                "prefix": f"{found['who']}_{found['pid']}_assignsubmission_file_"}
    return None


def recognises(rel):
    return is_notebook(rel) and parse_path(rel) is not None


def parse(files):
    entries, unmatched = [], []
    for rel, data, note in files:
        if not is_notebook(rel):
            continue
        found = parse_path(rel)
        if not found:
            unmatched.append((str(rel), "not in a Moodle submission folder "
                                        "(<Full Name>_<participant id>_assignsubmission_file_)"))
            continue
        blind = found["who"].lower() == BLIND or not found["who"]
        entries.append(Entry(rel, data, note, key=found["pid"],
                             name="" if blind else found["who"],
                             fallback=f"participant {found['pid']}" if blind else found["who"],
                             display=found["display"], prefix=found["prefix"]))
    return entries, [], unmatched


# --- the grading worksheet --------------------------------------------------------------------
def is_gradebook(header):
    return "Identifier" in header


def roster(table):
    people = []
    for index, row in table.rows():
        pid = digits_at_end(row.get("Identifier", ""))
        if not pid:
            continue
        name = row.get("Full name", "").strip()
        login = next((row[c].strip() for c in ("Username", "Email address", "ID number")
                      if row.get(c, "").strip()), f"participant {pid}")
        first, last = split_name(name)
        ids = [row.get(c, "") for c in ("Username", "Email address", "ID number", "Full name")]
        people.append((index, Person(key=pid, login=login, name=name, first=first, last=last,
                                     identities=tuple(ident(i) for i in ids if i.strip()),
                                     time=_time(row.get(SUBMITTED, "")))))
    return people


def _time(text):
    for form in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), form)
        except ValueError:
            continue
    return None


def grade_column(table, assignment, notebooks, column=None):
    """(index of ``Grade``, the worksheet's ``Maximum Grade``)."""
    index = table.column(column or GRADE)
    if index is None:
        raise Refused(f"{table.name} has no column {column or GRADE!r}: pass --column with one of",
                      table.header)
    for _, row in table.rows():
        try:
            return index, float(row.get(MAXIMUM, "").strip().replace(",", "."))
        except ValueError:
            continue
    return index, None


def feedback_name(student, notebook):
    prefix = student.get("prefix", "")
    return f"{prefix}/{notebook}.html" if prefix else None
