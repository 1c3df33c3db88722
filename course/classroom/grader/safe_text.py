"""Text a student controls, made safe to show: on the instructor's terminal, in a CSV cell, in a
report or a feedback page (trusted side).

File names, student ids, grade ids, flag names and details can carry terminal escape sequences
(``ESC [31m``, ``ESC ] 8 ;; url BEL``), bidi overrides that reorder what is shown (U+202E) or a
spreadsheet formula (``=HYPERLINK(...)``). Every printer and writer of the course tools passes
such text through :func:`shown`, and every CSV cell through :func:`csv_cell`:

* each character of Unicode category C* (C0 and C1 controls, DEL, format characters such as
  bidi overrides and zero-width marks, surrogates from undecodable file names, private-use and
  unassigned code points) or a line/paragraph separator becomes a visible escape (``\\x1b``,
  ``\\u202e``, ``\\t``), so an escape sequence is printed as text and never interpreted;
* a text that then starts with ``=``, ``+``, ``-`` or ``@`` gets a leading ``'`` (OWASP's advice
  against CSV/formula injection; a leading tab or CR was already escaped to ``\\t``/``\\r``).

``shown`` is idempotent (its output contains no control character and never starts with a
formula character) and leaves ordinary text unchanged. Backslashes are not escaped (that would
break idempotence): a name holding the four characters ``\\x1b`` is shown as it is.
"""

import math
import unicodedata

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")   # OWASP: cells a spreadsheet may evaluate
NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def unsafe(char):
    """True for a character that must never reach a terminal or a report as it is."""
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zl", "Zp")


def _escape(char):
    if char in NAMED_ESCAPES:
        return NAMED_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def shown(value):
    """``str(value)`` safe to print or write: control and format characters escaped, a leading
    formula character quoted (see the module's docstring). ``None`` is shown as ''."""
    text = "" if value is None else str(value)
    text = "".join(_escape(c) if unsafe(c) else c for c in text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value):
    """One CSV cell. A finite number (a score, a total) stays a number: it is written as digits
    (``-1.5``, ``2``), never as text, so a spreadsheet still adds it up; everything else (and
    NaN or infinity, whose ``-inf`` would read as a formula) is text passed through ``shown``."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return shown(value)
