"""A gradebook file as the LMS wrote it (CSV or tab-separated), read and written back with only
some cells changed.

An instructor downloads a gradebook (Canvas's CSV, Moodle's grading worksheet, Blackboard's
"work offline" file), the course fills one column, and the LMS imports the result. Everything
but the filled cells must reach the LMS as it left it: row order, other columns and rows (the
Points Possible row), quoting, the encoding and its byte order mark, the line endings. So the
file is never rewritten by a CSV writer: it is decoded once, every field's place in the text is
kept, and a change splices new text into those places only (``Table.with_cells``), which then
checks that every other cell reads back as before.

Encodings: a UTF-8, UTF-16 (Blackboard's tab-separated ``.xls``) or UTF-8 BOM is kept; a file
without one is read as UTF-8, else as Windows-1252 (a spreadsheet's save on Windows) when that
reads the bytes back exactly, else as Latin-1 (which always does). The delimiter is the one of
``,``, tab and ``;`` that the header line uses most (outside quotes).
"""

import codecs
from dataclasses import dataclass

BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"))
DELIMITERS = (",", "\t", ";")


@dataclass
class Field:
    value: str      # the cell's text (quotes removed)
    start: int      # where the field's text begins in the decoded file (its opening quote)
    end: int        # where it ends (after its closing quote)
    quoted: bool


@dataclass
class Record:
    fields: list
    end: int        # where the record ends (its line ending, or the end of the text)

    def values(self):
        return [f.value for f in self.fields]


class Table:
    """The records of one delimited text file, each field with its place in the text."""

    def __init__(self, data, name="gradebook"):
        self.name, self.data = name, bytes(data)
        self.bom, self.encoding = b"", None
        for bom, encoding in BOMS:
            if self.data.startswith(bom):
                self.bom, self.encoding = bom, encoding
                break
        body = self.data[len(self.bom):]
        if self.encoding:
            self.text = body.decode(self.encoding)      # a BOM that lies is an error to report
        else:
            self.encoding, self.text = _decode(body)
        first = self.text.split("\n", 1)[0]
        self.delimiter = max(DELIMITERS, key=lambda d: _count_outside_quotes(first, d))
        self.records = parse(self.text, self.delimiter)
        if not self.records or not any(self.records[0].values()):
            raise ValueError(f"{name}: no header line")

    @classmethod
    def read(cls, path):
        from pathlib import Path
        try:
            return cls(Path(path).read_bytes(), str(path))
        except (UnicodeError, ValueError) as error:
            raise SystemExit(f"{path}: not a gradebook file this tool can read ({error})") from None

    @property
    def header(self):
        return [v.strip() for v in self.records[0].values()]

    def rows(self):
        """(record index, {column: value}) of every record after the header (short records
        give '' for the columns they lack; blank lines are skipped)."""
        header = self.header
        for index, record in enumerate(self.records[1:], 1):
            values = record.values()
            if not any(v.strip() for v in values):
                continue
            yield index, {name: (values[i] if i < len(values) else "")
                          for i, name in enumerate(header)}

    def column(self, name):
        """The index of the header ``name`` (the first if repeated), or None."""
        return self.header.index(name) if name in self.header else None

    def with_cells(self, changes):
        """The file's bytes with ``changes`` ({(record index, column index): text}) written in;
        every other byte as it was. A field that was quoted stays quoted (and one the new text
        needs quoted is); a record shorter than the column gains empty fields up to it."""
        edits = []
        for (index, column), text in changes.items():
            record = self.records[index]
            if column < len(record.fields):
                field = record.fields[column]
                edits.append((field.start, field.end, self._quote(text, field.quoted)))
            else:
                missing = column - len(record.fields) + 1
                edits.append((record.end, record.end,
                              self.delimiter * missing + self._quote(text, False)))
        text = self.text
        for start, end, new in sorted(edits, reverse=True):
            text = text[:start] + new + text[end:]
        data = self.bom + text.encode(self.encoding)
        self._check(data, changes)
        return data

    def _quote(self, text, quoted):
        if quoted or any(c in text for c in (self.delimiter, '"', "\r", "\n")):
            return '"' + text.replace('"', '""') + '"'
        return text

    def _check(self, data, changes):
        """Read ``data`` back: the changed cells hold their new text, every other cell its old."""
        again = Table(data, self.name)
        if len(again.records) != len(self.records):
            raise RuntimeError(f"{self.name}: filling it would change its number of records")
        for index, (old, new) in enumerate(zip(self.records, again.records)):
            wanted = old.values()
            for (row, column), text in changes.items():
                if row == index:
                    wanted += [""] * (column + 1 - len(wanted))
                    wanted[column] = text
            if new.values() != wanted:
                raise RuntimeError(f"{self.name}: filling it would change record {index} "
                                   "beyond its filled cell")


def _decode(body):
    try:
        return "utf-8", body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = body.decode("cp1252")
        if text.encode("cp1252") == body:
            return "cp1252", text
    except UnicodeError:
        pass
    return "latin-1", body.decode("latin-1")


def _count_outside_quotes(line, char):
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


def parse(text, delimiter):
    """The records of ``text`` (RFC 4180: quoted fields may hold delimiters, doubled quotes and
    line breaks; records end with CRLF, LF or CR), each field with its span. Lenient as
    spreadsheets are: text after a closing quote belongs to the field, an unclosed quote runs
    to the end."""
    records, fields, i, n = [], [], 0, len(text)
    stops = (delimiter, "\r", "\n")
    while True:
        if i < n and text[i] == '"':
            parts, j = [], i + 1
            while True:
                k = text.find('"', j)
                if k < 0:
                    parts.append(text[j:])
                    j = n
                    break
                parts.append(text[j:k])
                if text.startswith('""', k):
                    parts.append('"')
                    j = k + 2
                    continue
                j = k + 1
                break
            end = j
            while end < n and text[end] not in stops:
                end += 1
            fields.append(Field("".join(parts) + text[j:end], i, end, True))
        else:
            end = i
            while end < n and text[end] not in stops:
                end += 1
            fields.append(Field(text[i:end], i, end, False))
        if end < n and text[end] == delimiter:
            i = end + 1
            continue
        records.append(Record(fields, end))
        fields = []
        if end >= n:
            break
        i = end + (2 if text.startswith("\r\n", end) else 1)
        if i >= n:
            break
    return records
