"""The dataset contract: what an uploaded CSV must satisfy before anything is trained.

Checked with the csv module rather than pandas: the Lambda stays small and starts fast, and
the rules are few (header, label column, numeric features, enough rows, both classes).
"""

import csv
import io
import math

from ..errors import DatasetInvalid

MAX_REPORTED_PROBLEMS = 5


def validate_csv(data: bytes, label: str, min_rows: int) -> tuple[int, int]:
    """Returns (rows, features) or raises DatasetInvalid naming every problem found (up to 5)."""
    if not data.strip():
        raise DatasetInvalid("the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetInvalid(
            f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    reader = csv.reader(io.StringIO(text))
    first = next(reader, None)
    if not first:  # e.g. a file holding only a byte-order mark
        raise DatasetInvalid("the file is empty")
    header = [h.strip() for h in first]
    _check_header(header, label)
    label_at = header.index(label)
    problems: list[str] = []
    rows = 0
    labels: set[str] = set()
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines are tolerated, as by every CSV reader downstream
        rows += 1
        if len(row) != len(header):
            problems.append(f"line {line_no}: {len(row)} columns, header has {len(header)}")
        else:
            problems.extend(_check_row(line_no, row, header, label_at, labels))
        if len(problems) >= MAX_REPORTED_PROBLEMS:
            break
    if problems:
        raise DatasetInvalid("; ".join(problems[:MAX_REPORTED_PROBLEMS]))
    if rows < min_rows:
        raise DatasetInvalid(f"{rows} data rows; the contract needs at least {min_rows}")
    if labels != {"0", "1"}:
        raise DatasetInvalid(
            f"label column '{label}' must contain both 0 and 1, got {sorted(labels)}"
        )
    return rows, len(header) - 1


def _check_header(header: list[str], label: str) -> None:
    if label not in header:
        raise DatasetInvalid(f"no label column '{label}' in header {header[:8]}")
    if len(header) < 2:
        raise DatasetInvalid("the header has no feature columns")
    if any(not h for h in header):
        raise DatasetInvalid("the header has an empty column name")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise DatasetInvalid(f"duplicate columns in header: {duplicates}")


def _check_row(
    line_no: int, row: list[str], header: list[str], label_at: int, labels: set[str]
) -> list[str]:
    problems = []
    for column, cell in zip(header, row, strict=True):
        value = cell.strip()
        if column == header[label_at]:
            if value not in ("0", "1"):
                problems.append(f"line {line_no}: label '{column}' is {value!r}, expected 0 or 1")
            labels.add(value)
            continue
        try:
            number = float(value)
        except ValueError:
            problems.append(f"line {line_no}: feature '{column}' is not numeric ({value!r})")
            continue
        if not math.isfinite(number):
            problems.append(f"line {line_no}: feature '{column}' is {value}")
    return problems
