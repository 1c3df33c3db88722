"""A wrong answer in the exercise's own words, for the student's feedback page (trusted side).

``explain(got, expected, ...)`` says what differs the way a teaching assistant writes it: the
first wrong value of a tuple answer by its name ("parameters: expected 2112, got 4160"), a dict
by its key, a list by its length or its first wrong item, an array by its shape or by its first
differing element ("3 of 96 values differ by more than 0.0001; the first at index [0, 1]:
expected 0.25, got 0.5"), a number as a number.

What the student's code returned is only ever *summarised*: numbers (6 significant digits, more
only where 6 would read alike), shapes, counts, at most one element of a large array, a dozen
values of a small one, text cut to 20 characters, at most three unexpected dict keys; the whole
text is cut to 300 characters. So an answer can carry little else into a feedback page (a
notebook's code may have seen the hidden inputs of an earlier exercise; the judge shows a
student's values only for the notebook's own, visible, cases and single answers).
``reveal=False`` leaves the expected value out (single answers, whose key the class shares).
Never raises.
"""

import math

LIMIT = 300             # characters of one explanation
SMALL = 12              # arrays up to this many values are shown whole
TEXT = 20               # characters of a student's text
KEYS = 3                # unexpected dict keys named


def explain(got, expected, tolerance=1e-6, fields=(), reveal=True):
    """What is wrong with ``got`` for ``expected`` (a text, at most ``LIMIT`` characters)."""
    try:
        text = _explain(got, expected, tolerance, tuple(fields), reveal)
    except Exception:          # an answer nothing can describe is still wrong: say so plainly
        text = None
    try:
        text = text or (f"expected {_value(expected)}, got {_kind(got)}" if reveal
                        else f"got {_kind(got)}, which is not right")
    except Exception:
        text = "the answer is not right"
    return text if len(text) <= LIMIT else text[:LIMIT - 4] + " ..."


def _differs(got, expected, tolerance):
    from boxloc.exercises import compare
    return compare(got, expected, tolerance) is not None


def _explain(got, expected, tolerance, fields, reveal):
    if fields and _sequence(expected) and len(expected) == len(fields):
        if not _sequence(got) or len(got) != len(fields):
            return f"expected {len(fields)} values ({', '.join(fields)}), got {_kind(got)}"
        for name, g, e in zip(fields, got, expected):
            if _differs(g, e, tolerance):
                return f"{name}: {_explain(g, e, tolerance, (), reveal)}"
        return None
    if isinstance(expected, dict):
        return _explain_dict(got, expected, tolerance, reveal)
    nested = _sequence(expected) and expected and all(_sequence(e) for e in expected)
    array = _numbers(expected)
    if array is not None and not isinstance(expected, bool) and not nested:
        return _explain_numbers(got, expected, array, tolerance, reveal)
    if _sequence(expected):           # items one by one: a list of shapes, (shape, count)
        if type(got).__name__ == "ndarray" and got.ndim:
            got = list(got)
        if not _sequence(got):
            return f"expected {_count(len(expected), 'item')}, got {_kind(got)}"
        if len(got) != len(expected):
            return f"expected {_count(len(expected), 'item')}, got {len(got)}"
        for number, (g, e) in enumerate(zip(got, expected), 1):
            if _differs(g, e, tolerance):
                return f"item {number}: {_explain(g, e, tolerance, (), reveal)}"
        return None
    return _pair(_value(expected), _value(got), reveal)


def _explain_dict(got, expected, tolerance, reveal):
    if not isinstance(got, dict):
        return f"expected a dict of {_count(len(expected), 'key')}, got {_kind(got)}"
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        said = []
        if missing:
            said.append("missing " + ", ".join(_text(k) for k in missing[:6])
                        + (" ..." if len(missing) > 6 else ""))
        if extra:
            said.append(f"{_count(len(extra), 'unexpected key')} ("
                        + ", ".join(_text(k) for k in extra[:KEYS])
                        + (" ..." if len(extra) > KEYS else "") + ")")
        return "; ".join(said)
    for key in expected:
        if _differs(got[key], expected[key], tolerance):
            return f"[{_text(key)}] {_explain(got[key], expected[key], tolerance, (), reveal)}"
    return None


def _explain_numbers(got, expected, array, tolerance, reveal):
    if array.ndim == 0:
        got_array = _numbers(got)
        if got_array is None or got_array.ndim != 0 or isinstance(got, str):
            return (f"expected the number {_number(array.item())}" if reveal else
                    "expected one number") + f", got {_kind(got)}"
        return _pair(*_numbers_apart(array.item(), got_array.item()), reveal)
    got_array = None if isinstance(got, str) else _numbers(got)
    if got_array is None:
        return f"expected {_shape_words(array)}, got {_kind(got)}"
    if got_array.shape != array.shape:
        if array.ndim == 1 and got_array.ndim == 1:
            if array.size <= SMALL and got_array.size <= SMALL:
                return _pair(*_small_apart(array, got_array, isinstance(expected, tuple)), reveal)
            return f"expected {_count(array.size, 'value')}, got {got_array.size}"
        return f"expected shape {_shape(array.shape)}, got shape {_shape(got_array.shape)}"
    import numpy as np
    close = np.isclose(got_array, array, atol=tolerance, rtol=0, equal_nan=True)
    if array.size <= SMALL:
        return _pair(*_small_apart(array, got_array, isinstance(expected, tuple)), reveal)
    wrong = np.argwhere(~close)
    if not len(wrong):
        return None
    first = tuple(int(i) for i in wrong[0])
    want, have = _numbers_apart(array[first].item(), got_array[first].item())
    return (f"{len(wrong)} of {array.size} values differ by more than {tolerance:g}; the first "
            f"at index {list(first)}: " + _pair(want, have, reveal))


def _pair(want, have, reveal):
    return f"expected {want}, got {have}" if reveal else f"got {have}, which is not right"


# ---------------------------------------------------------------- values in a few characters

def _numbers(value):
    """A float array of ``value`` if it is numbers (not text, not ragged), else None."""
    import numpy as np
    if isinstance(value, (str, bytes, dict)) or value is None:
        return None
    try:
        array = np.asarray(value)
    except Exception:
        return None
    if array.dtype.kind not in "biuf":
        return None
    return array.astype(float)


def _number(x, digits=6):
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        if abs(x) < 10 ** 15:
            return str(x)
        return f"an integer of about {math.floor(x.bit_length() * math.log10(2)) + 1} digits"
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == int(x) and abs(x) < 10 ** 15:
        return str(int(x))
    return f"{x:.{digits}g}"


def _numbers_apart(want, have):
    """Two numbers written with as few digits as tells them apart (6 to 12)."""
    for digits in range(6, 13):
        a, b = _number(want, digits), _number(have, digits)
        if a != b:
            break
    return a, b


def _small(array, digits, round_brackets=False):
    if array.ndim == 0:
        return _number(array.item(), digits)
    inner = ", ".join(_small(a, digits) for a in array)
    return f"({inner})" if round_brackets else f"[{inner}]"


def _small_apart(want, have, round_brackets=False):
    for digits in range(6, 13):
        a, b = _small(want, digits, round_brackets), _small(have, digits, round_brackets)
        if a != b:
            break
    return a, b


def _shape(shape):
    return "(" + ", ".join(str(n) for n in shape[:8]) + (", ...)" if len(shape) > 8 else
                                                         ",)" if len(shape) == 1 else ")")


def _shape_words(array):
    if array.ndim == 1:
        return _count(array.size, "value")
    return f"an array of shape {_shape(array.shape)}"


def _count(n, noun):
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _sequence(value):
    return isinstance(value, (list, tuple))


def _text(value):
    """A student's text (or a dict key) in quotes, cut to ``TEXT`` characters."""
    text = str(value) if not isinstance(value, str) else value
    return repr(text if len(text) <= TEXT else text[:TEXT] + "...")


def _value(value):
    """A value in a few characters: numbers, small arrays, short text, or what kind it is."""
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return _text(value)
    array = _numbers(value)
    if array is not None and array.size <= SMALL:
        return _small(array, 6, isinstance(value, tuple))
    return _kind(value)


def _kind(value):
    """What kind of value a student returned, summarised (never its whole contents)."""
    import numpy as np
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return f"the text {_text(value)}"
    if isinstance(value, (int, float, np.number)):
        return _number(value)
    if isinstance(value, dict):
        return f"a dict of {_count(len(value), 'key')}"
    if isinstance(value, np.ndarray):
        if value.size <= SMALL and value.dtype.kind in "biuf":
            return _small(value.astype(float), 6) if value.ndim else _number(value.item())
        return f"an array of shape {_shape(value.shape)}"
    if _sequence(value):
        array = _numbers(value)
        if array is not None and array.size <= SMALL and array.ndim:
            return _small(array, 6)
        return f"a {type(value).__name__} of {_count(len(value), 'item')}"
    return f"a value of type {_text(type(value).__name__)}"
