"""Gradescope: an assignment's "Export Submissions" in (grades stay in Gradescope or go to the
LMS it is linked to).

The export holds one folder per submission, ``submission_<id>/``, with the files as uploaded,
and ``submission_metadata.yml`` naming each folder's submitters and time (Ruby symbols as
keys)::

    submission_99887766:
      :submitters:
      - :name: Alice Smith
        :sid: '12345'
        :email: alice@example.edu
      :created_at: 2026-11-30 17:05:11.123456000 -08:00

A group submission names several submitters: each of them gets the notebook. The stable key
is the SID (the e-mail where a student has none). A roster is Gradescope's roster CSV (``Name``
or ``First Name``/``Last Name``, ``SID``, ``Email``) or an assignment's scores CSV.

Assumptions: the export holds one folder per student's active submission (if an older one is
there too, the later ``created_at`` counts); a folder the metadata does not name is reported,
not guessed. Gradescope takes no grade file back: ``export --lms gradescope`` refuses and says
where the grades go.
"""

import re
from datetime import datetime

from .common import (Entry, Person, Refused, aware, ident, is_notebook, number_rank,
                     split_name)

NAME, TITLE = "gradescope", "Gradescope"
METADATA = "submission_metadata.yml"
FOLDER = re.compile(r"submission_(?P<id>\d+)")
EXPORTS = False


def recognises(rel):
    return rel.name == METADATA or (is_notebook(rel) and _folder(rel) is not None)


def _folder(rel):
    for part in rel.parts[:-1]:
        found = FOLDER.fullmatch(part)
        if found:
            return found
    return None


def read_metadata(data):
    """{folder name: [(submitters, created_at)]} of submission_metadata.yml; raises ValueError
    when it is not such a file."""
    try:
        import yaml
    except ImportError:         # PyYAML comes with Jupyter (jupyter_events), so with nbgrader
        raise ValueError("reading it needs PyYAML (pip install pyyaml)") from None
    try:
        loaded = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
        raise ValueError(f"not YAML: {type(error).__name__}") from None
    if not isinstance(loaded, dict):
        raise ValueError("not a mapping of submissions")
    found = {}
    for folder, details in loaded.items():
        if not isinstance(details, dict):
            continue
        people = details.get(":submitters") or details.get("submitters") or []
        people = [p for p in people if isinstance(p, dict)] if isinstance(people, list) else []
        found[str(folder)] = ([{k.lstrip(":"): str(v) for k, v in p.items()
                                if isinstance(k, str) and v is not None} for p in people],
                              _time(details.get(":created_at") or details.get("created_at")))
    return found


def _time(value):
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())       # nanoseconds -> microseconds
        text = re.sub(r"\s([+-]\d\d):?(\d\d)$", r"\1:\2", text)
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return None
    return None


def parse(files):
    read, unmatched, metadata = [], [], {}
    for rel, data, note in files:
        if rel.name == METADATA:
            try:
                metadata.update(read_metadata(data))
                read.append((str(rel), "Gradescope's submission metadata: read"))
            except ValueError as error:
                unmatched.append((str(rel), f"unreadable Gradescope metadata: {error}"))
    entries = []
    for rel, data, note in files:
        if not is_notebook(rel):
            continue
        folder = _folder(rel)
        submitters, created = metadata.get(folder[0], ([], None)) if folder else ([], None)
        keyed = [p for p in submitters if (p.get("sid") or p.get("email") or "").strip()]
        if not folder or not keyed:
            unmatched.append((str(rel), "not in a submission_<id> folder that "
                                        f"{METADATA} names a submitter of"))
            continue
        for person in keyed:
            entries.append(Entry(rel, data, note,
                                 key=(person.get("sid") or person.get("email")).strip(),
                                 name=person.get("name", "").strip(), display=rel.name,
                                 time=created, rank=(created is not None,
                                                     aware(created).timestamp() if created else 0,
                                                     number_rank(folder["id"])),
                                 prefix=folder[0], extra={"email": person.get("email", "")}))
    return entries, read, unmatched


# --- a roster ---------------------------------------------------------------------------------
def is_gradebook(header):
    return "SID" in header and "Email" in header


def roster(table):
    people = []
    for index, row in table.rows():
        key = (row.get("SID") or row.get("Email") or "").strip()
        if not key:
            continue
        name = row.get("Name", "").strip()
        first, last = row.get("First Name", "").strip(), row.get("Last Name", "").strip()
        if name and not (first or last):
            first, last = split_name(name)
        ids = (row.get("SID", ""), row.get("Email", ""))
        people.append((index, Person(key=key, login=key, name=name or f"{first} {last}".strip(),
                                     first=first, last=last,
                                     identities=tuple(ident(i) for i in ids if i.strip()))))
    return people


NO_GRADE_FILE = ("Gradescope takes no grade file: its scores are its own, and its LMS link "
                 "(Canvas, Moodle, Blackboard) posts them; export to that LMS's gradebook "
                 "(--lms canvas|moodle|blackboard --gradebook ...) or as --csv")


def grade_column(table, assignment, notebooks, column=None):
    raise Refused(NO_GRADE_FILE)


def feedback_name(student, notebook):
    key = student.get("key", "")
    return f"{key}/{notebook}.html" if key else None
