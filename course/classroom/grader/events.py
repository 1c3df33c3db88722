"""The sandbox's report, read strictly (trusted side).

A sandbox answers with one JSON object per line, in the forms ``driver.py`` lists. The honest
driver writes nothing else; a line that is not exactly one of those forms (not UTF-8, not JSON,
not an object, an unknown event or key, a value of the wrong type, a line cut short) means the
report cannot be trusted: ``parse`` raises ``Malformed`` saying what is wrong, in the grader's
own words (never quoting the line: it may be the student's text), and that one submission is
left "not graded" for a teaching assistant (``batch.py``) while the rest of the class is graded.
"""

import json
import math


class Malformed(ValueError):
    """A line of a sandbox's report that is not one of the driver's events."""


def _text(value):
    return type(value) is str


def _text_or_null(value):
    return value is None or type(value) is str


def _whole(value):
    return type(value) is int


def _yes_no(value):
    return type(value) is bool


def _texts(value):
    return type(value) is list and all(type(v) is str for v in value)


def _json_object(value):
    return type(value) is dict


def _one_of(*choices):
    return lambda value: type(value) is str and value in choices


def _seconds(value):
    return type(value) in (int, float) and math.isfinite(value) and value >= 0


# What one recorded case may be: {"ok": plain data} (decoded by the judge), a text for an
# error, a rejected answer or a case that was not run, or the seconds a case was given.
RESULT_FORMS = {"ok": lambda value: True, "error": _text, "rejected": _text, "skipped": _text,
                "timeout": _seconds}


def _results(value):
    return type(value) is list and all(
        type(r) is dict and len(r) == 1 and next(iter(r)) in RESULT_FORMS
        and RESULT_FORMS[next(iter(r))](next(iter(r.values()))) for r in value)


CELL_STATUSES = ("ok", "error", "timeout", "died", "skipped")

# event -> ({required key: check}, {optional key: check})
FORMS = {
    "cell": ({"index": _whole, "grade_id": _text_or_null, "status": _one_of(*CELL_STATUSES)},
             {"text": _text, "flooded": _yes_no, "error": _text}),
    "answer": ({"grade_id": _text, "results": _results}, {}),
    "kernel": ({"detail": _text}, {}),
    "audit": ({"items": _texts}, {"overflow": _whole, "sealed": _yes_no}),
    "ipython": ({"start": _text_or_null, "end": _text_or_null}, {}),
    "notebook": ({"notebook": _json_object}, {}),
    "started": ({}, {}),
    "done": ({}, {}),
}


def parse(line):
    """The event of one line (bytes, with its newline); raises Malformed naming the fault."""
    if not line.endswith(b"\n"):
        raise Malformed("a line cut short (no newline)")
    try:
        event = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise Malformed("a line that is not UTF-8") from None
    except (ValueError, RecursionError):
        raise Malformed("a line that is not JSON") from None
    if type(event) is not dict:
        raise Malformed(f"{_json_kind(event)} where an event object is expected")
    kind = event.get("event")
    if kind not in FORMS:
        raise Malformed("an event of no known kind")
    required, optional = FORMS[kind]
    keys = set(event) - {"event"}
    missing = sorted(set(required) - keys)
    if missing:
        raise Malformed(f"{kind} event without {', '.join(missing)}")
    if keys - set(required) - set(optional):
        raise Malformed(f"{kind} event with an unknown key")
    for key in sorted(keys):
        if not {**required, **optional}[key](event[key]):
            raise Malformed(f"{kind} event: {key} has the wrong form ({_json_kind(event[key])})")
    return event


def _json_kind(value):
    """'a list', 'a string', ... of a parsed JSON value (for messages)."""
    names = {dict: "an object", list: "a list", str: "a string", int: "a number",
             float: "a number", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a value")
