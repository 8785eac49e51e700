"""The dataset contract: what an uploaded CSV must satisfy before anything is trained.

Checked with the csv module rather than pandas: the Lambda stays small and starts fast, and
the rules are few (header, label column, numeric features, enough rows, and the label values
the problem type needs: domain.labels).

The object is streamed, never held whole: bytes are read in chunks, decoded incrementally (so a
decoding error still names its byte offset in the file), cut into lines and parsed row by row.
Memory is bounded by one chunk and one line, time is linear in the file. The parser's limits are
deliberate and part of the contract: a field may hold at most FIELD_SIZE_LIMIT characters and a
line at most MAX_LINE_CHARS; every parser failure becomes DatasetInvalid naming the line.
"""

import codecs
import csv
import io
import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ..errors import DatasetInvalid
from .labels import LabelRules, canonical_label

MAX_REPORTED_PROBLEMS = 5
#: Longest field (a column name or a value), in characters. A number needs a few dozen; the
#: limit keeps csv from buffering a runaway quoted field.
FIELD_SIZE_LIMIT = 4096
#: Longest line, in characters: about 100,000 columns of realistic names or values. A line is
#: the unit held in memory, so this bounds what one object can make the function hold.
MAX_LINE_CHARS = 4 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
BOM = codecs.BOM_UTF8


@dataclass
class CsvScan:
    """One CSV file as the contract reads it: its header, data rows and (classification) the
    rows of each class, by canonical label value (domain.labels)."""

    header: list[str]
    rows: int
    classes: Counter[str] = field(default_factory=Counter)


def validate_csv(
    source: bytes | BinaryIO, label: str, min_rows: int, rules: LabelRules | None = None
) -> tuple[int, int]:
    """Returns (rows, features) or raises DatasetInvalid naming every problem found (up to 5).

    `source` is the object's bytes or a binary stream (a botocore StreamingBody) read to the end.
    `rules`: the stack's problem (default: binary, positive label 1).
    """
    rules = rules or LabelRules()
    scan = scan_csv(source, label, rules)
    check_totals(label, rules, min_rows, scan.rows, scan.classes)
    return scan.rows, len(scan.header) - 1


def scan_csv(source: bytes | BinaryIO, label: str, rules: LabelRules) -> CsvScan:
    """The file's header, rows and classes, every row checked; DatasetInvalid naming every
    problem found (up to 5). The rules on the whole dataset are check_totals'."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    lines = _Lines(stream)
    with _field_size_limit(FIELD_SIZE_LIMIT):
        reader = csv.reader(lines)
        try:
            return _scan_rows(reader, label, rules)
        except csv.Error as exc:
            raise DatasetInvalid(f"line {reader.line_num}: {_csv_problem(exc)}") from exc


def check_totals(
    label: str, rules: LabelRules, min_rows: int, rows: int, classes: Counter[str]
) -> None:
    """The rules on the dataset as a whole (all its parts): enough rows, the classes."""
    if rows < min_rows:
        raise DatasetInvalid(f"{rows} data rows; the contract needs at least {min_rows}")
    rules.check_classes(label, classes, rows)


def _scan_rows(reader: Any, label: str, rules: LabelRules) -> CsvScan:
    """`reader`: a csv.reader (its line_num is the line of the last row read)."""
    first = next(reader, None)
    if not first or not any(cell.strip() for cell in first):
        if all(not any(cell.strip() for cell in row) for row in reader):
            raise DatasetInvalid("the file is empty")
        raise DatasetInvalid("line 1: the header row is blank")
    header = [h.strip() for h in first]
    _check_header(header, label)
    label_at = header.index(label)
    problems: list[str] = []
    scan = CsvScan(header, 0)
    count = _Classes(rules, scan.classes) if rules.classified else None
    numeric_label = not rules.classified
    for row in reader:
        if not row or not (row[0].strip() or any(cell.strip() for cell in row)):
            continue  # blank lines are tolerated, as by every CSV reader downstream
        scan.rows += 1
        if len(row) != len(header):
            problems.append(f"line {reader.line_num}: {len(row)} columns, header has {len(header)}")
            continue
        value = row[label_at].strip()
        if not (value and _clean(row, label_at, numeric_label)):
            problems.extend(_check_row(reader.line_num, row, header, label_at, rules))
        if count is not None and value:
            count(value)
        if len(problems) >= MAX_REPORTED_PROBLEMS:
            break
    if problems:
        raise DatasetInvalid("; ".join(problems[:MAX_REPORTED_PROBLEMS]))
    return scan


class _Classes:
    """Counts rows per class by canonical value; remembers the canonical form of the first
    spellings seen (a label column has few), and stops adding classes one past the most the
    problem allows, so memory stays bounded whatever the column holds."""

    SPELLINGS = 1024

    def __init__(self, rules: LabelRules, classes: Counter[str]) -> None:
        self._classes, self._most = classes, rules.most_classes_tracked
        self._spelling: dict[str, str] = {}

    def __call__(self, value: str) -> None:
        canonical = self._spelling.get(value)
        if canonical is None:
            canonical = canonical_label(value)
            if len(self._spelling) < self.SPELLINGS:
                self._spelling[value] = canonical
        if canonical in self._classes or len(self._classes) < self._most:
            self._classes[canonical] += 1


def _check_header(header: list[str], label: str) -> None:
    if label not in header:
        raise DatasetInvalid(f"no label column '{label}' in header {header[:8]}")
    if len(header) < 2:
        raise DatasetInvalid("the header has no feature columns")
    if any(not h for h in header):
        raise DatasetInvalid("the header has an empty column name")
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicates:
        shown = duplicates[:MAX_REPORTED_PROBLEMS]
        more = len(duplicates) - len(shown)
        raise DatasetInvalid(
            f"duplicate columns in header: {shown}" + (f" and {more} more" if more else "")
        )


def _clean(row: list[str], label_at: int, numeric_label: bool) -> bool:
    """The common case, checked at C speed: every feature (and a regression label) a finite
    number. A sum that is not finite means a non-finite value (or an overflow): _check_row
    decides."""
    try:
        if numeric_label:
            total = sum(map(float, row))
        else:
            total = sum(map(float, row[:label_at])) + sum(map(float, row[label_at + 1 :]))
    except ValueError:
        return False
    return math.isfinite(total)


def _check_row(
    line_no: int, row: list[str], header: list[str], label_at: int, rules: LabelRules
) -> list[str]:
    problems = []
    for at, (column, cell) in enumerate(zip(header, row, strict=True)):
        value = cell.strip()
        if at == label_at:
            if (problem := rules.problem(value)) is not None:
                problems.append(f"line {line_no}: label '{column}' {problem}")
            continue
        try:
            number = float(value)
        except ValueError:
            problems.append(f"line {line_no}: feature '{column}' is not numeric ({value[:40]!r})")
            continue
        if not math.isfinite(number):
            problems.append(f"line {line_no}: feature '{column}' is {value}")
    return problems


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if text.startswith("field larger than field limit"):
        return f"a field is longer than {FIELD_SIZE_LIMIT} characters"
    if text.startswith("new-line character seen in unquoted field"):
        return "a line ends in a bare carriage return; use \\n or \\r\\n line endings"
    return f"not readable as CSV ({text})"


@contextmanager
def _field_size_limit(limit: int) -> Iterator[None]:
    """csv's limit is process-wide: set for the validation, then put back."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


class _Lines:
    """The stream as text lines ending in "\\n" (the form csv.reader needs: it ends a record at
    the end of each string it is given), decoded as UTF-8 with an optional byte-order mark."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0  # bytes of the file handed to the decoder so far
        self.line = 0  # lines handed out so far

    def __iter__(self) -> Iterator[str]:
        pending: list[str] = []
        length = 0
        for text in self._texts():
            start = 0
            while (end := text.find("\n", start)) >= 0:
                piece = text[start : end + 1]
                self._check_length(length + len(piece))
                yield "".join(pending) + piece if pending else piece
                self.line += 1
                pending, length, start = [], 0, end + 1
            if start < len(text):
                pending.append(text[start:])
                length += len(text) - start
                self._check_length(length)
        if pending:
            yield "".join(pending)

    def _check_length(self, length: int) -> None:
        if length > MAX_LINE_CHARS:
            raise DatasetInvalid(f"line {self.line + 1}: longer than {MAX_LINE_CHARS} characters")

    def _texts(self) -> Iterator[str]:
        chunk = self._stream.read(CHUNK_BYTES)
        while chunk and len(chunk) < len(BOM) and (more := self._stream.read(CHUNK_BYTES)):
            chunk += more  # a short first read must not split the byte-order mark
        if chunk.startswith(BOM):
            chunk, self._offset = chunk[len(BOM) :], len(BOM)
            if not chunk:
                chunk = self._stream.read(CHUNK_BYTES)
        while True:
            text = self._decode(chunk, final=not chunk)
            if text:
                yield text
            if not chunk:
                return
            chunk = self._stream.read(CHUNK_BYTES)

    def _decode(self, chunk: bytes, final: bool) -> str:
        held = len(self._decoder.getstate()[0])  # bytes of a sequence split across chunks
        try:
            text = self._decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            at = self._offset - held + exc.start
            raise DatasetInvalid(f"the file is not UTF-8 text ({exc.reason} at byte {at})") from exc
        self._offset += len(chunk)
        return text
