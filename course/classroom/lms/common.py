"""What the four LMS modules share: a submitted file as a download names it (``Entry``), a
gradebook row (``Person``), the student id made of either, times and the late policy."""

import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from boxloc.selfcheck import clean_name   # the rule every student id follows

from ..layout import SETTINGS_FILE

NOTEBOOK_SUFFIX = ".ipynb"


class Refused(Exception):
    """An export or feedback file that is not written; ``lines`` say why (one per student)."""

    def __init__(self, headline, lines=()):
        super().__init__(headline)
        self.headline, self.lines = headline, list(lines)


@dataclass
class Entry:
    """One submitted notebook in an LMS download."""
    rel: PurePosixPath          # where it is in the download
    data: bytes
    note: str                   # how a zip name was read ('' if as it is)
    key: str                    # the LMS's own key of the student (user id, username, SID)
    name: str = ""              # the student's name as the download shows it ('' if none)
    fallback: str = ""          # the text the student id is made of without a roster ('' = key)
    display: str = ""           # the file's own name, as the student uploaded it
    time: datetime = None       # when it was submitted (None where the layout does not say)
    late: bool = False          # the LMS itself marked it late (Canvas's _LATE)
    rank: tuple = ()            # later re-uploads and attempts of one student rank higher
    prefix: str = ""            # how the download names this submission (feedback goes back in it)
    extra: dict = field(default_factory=dict)


@dataclass
class Person:
    """One student of a roster (the LMS's gradebook or worksheet)."""
    key: str                    # the key the download names the student by
    login: str                  # the institution's login: the student id when a roster is given
    name: str = ""
    first: str = ""
    last: str = ""
    identities: tuple = ()      # every text that names this student (ids, logins, e-mail)
    time: datetime = None       # when the roster says the student submitted (Moodle's worksheet)


def ident(text):
    """The student id made of ``text``: the course's naming rule (lower-case a-z, 0-9 and ``_``;
    ``José Núñez`` -> ``jose_nunez``). A text with none of those letters (a name in another
    script) gets ``u`` and 10 hex digits of its hash, so it still names one folder, always the
    same. '' for an empty text."""
    text = unicodedata.normalize("NFC", (text or "").strip())
    if not text:
        return ""
    return clean_name(text, []) or "u" + hashlib.sha256(text.encode()).hexdigest()[:10]


def split_name(full):
    """(first, last) of a name written first name first (the first word; the rest)."""
    words = full.split()
    return (words[0], " ".join(words[1:])) if words else ("", "")


def number_rank(digits):
    """A rank that orders digit strings as numbers, however long (no int() of 5000 digits)."""
    digits = digits.lstrip("0") or "0"
    return (len(digits), digits)


def notebook_path(name):
    """A display name as the release's notebook name matching sees it."""
    return PurePosixPath(name or "unnamed")


def is_notebook(rel):
    return rel.suffix == NOTEBOOK_SUFFIX


# --- times ------------------------------------------------------------------------------------
def parse_due(text):
    """``--due`` (ISO 8601: ``2026-11-30 17:00``, ``2026-11-30T17:00+01:00``) as an aware
    datetime; a time without an offset is in this computer's time zone."""
    try:
        return aware(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise SystemExit(f"--due {text!r}: expected a date and time such as 2026-11-30T17:00 "
                         "(optionally with its offset, +01:00)") from None


def aware(moment):
    """``moment`` with a time zone: one without is taken as this computer's local time (so are
    Blackboard's attempt times, which name none)."""
    return moment if moment.tzinfo else moment.astimezone()


def minutes_late(time, due):
    """Whole minutes (rounded up) from ``due`` to ``time``; 0 if on time, None if either is
    unknown."""
    if time is None or due is None:
        return None
    seconds = (aware(time) - due).total_seconds()
    return max(0, math.ceil(seconds / 60))


def delay_text(minutes):
    """``2h05m``, ``1d03h00m``; ``?`` when unknown."""
    if minutes is None:
        return "?"
    days, rest = divmod(int(minutes), 1440)
    hours, mins = divmod(rest, 60)
    return f"{days}d{hours:02d}h{mins:02d}m" if days else f"{hours}h{mins:02d}m"


# --- the late policy (course.toml) ------------------------------------------------------------
POLICY_KEYS = {"per_day": 0.0, "grace_minutes": 0.0, "maximum": 100.0}


def late_policy(settings):
    """The ``[late_policy]`` section of course.toml as numbers: ``per_day`` (percent of the
    points taken off per started day late, default 0: late work is flagged, not penalised),
    ``grace_minutes`` (a submission this close after the due time costs nothing) and
    ``maximum`` (percent, at most). Values may be written as strings (Python 3.10's reader
    takes only those)."""
    section = settings.get("late_policy", {})
    unknown = set(section) - set(POLICY_KEYS)
    if unknown:
        raise SystemExit(f"{SETTINGS_FILE} [late_policy]: unknown keys {sorted(unknown)}; "
                         f"known: {sorted(POLICY_KEYS)}")
    policy = {}
    for key, default in POLICY_KEYS.items():
        try:
            policy[key] = float(section.get(key, default))
        except (TypeError, ValueError):
            raise SystemExit(f"{SETTINGS_FILE} [late_policy] {key} = {section[key]!r}: "
                             "expected a number") from None
        if not 0 <= policy[key] <= (100 if key != "grace_minutes" else math.inf):
            raise SystemExit(f"{SETTINGS_FILE} [late_policy] {key} = {section[key]!r}: "
                             "out of range")
    return policy


def penalty_percent(minutes, policy):
    """Percent of the points a submission ``minutes`` late loses under ``policy`` (0 when the
    delay is unknown: Canvas's _LATE without a time; Canvas applies its own late policy)."""
    if not minutes or minutes <= policy["grace_minutes"]:
        return 0.0
    days = math.ceil((minutes - policy["grace_minutes"]) / 1440)
    return min(policy["maximum"], days * policy["per_day"])


def column_matches(title, assignment, notebooks):
    """Whether a gradebook column's title names the assignment: the same words once numbers
    and words such as 'assignment' are left out (``Anchors``, ``01 Anchors``, ``Assignment 1:
    anchors`` all name ``01_anchors``)."""
    def words(text):
        return [w for w in clean_name(text, []).split("_")
                if w and not w.isdigit() and w not in FILLER_WORDS]
    wanted = [words(assignment)] + [words(n) for n in notebooks]
    return bool(words(title)) and words(title) in wanted


FILLER_WORDS = {"assignment", "notebook", "homework", "hw", "lab", "exercise", "exercises",
                "part", "week", "unit", "ipynb"}


def digits_at_end(text):
    found = re.search(r"(\d+)\s*$", text or "")
    return found[1] if found else ""
