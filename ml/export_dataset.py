"""Export scikit-learn's bundled breast cancer data to the dataset contract's CSV.

Run once (`python ml/export_dataset.py`); the CSV is kept in the repository. The data ships with
scikit-learn, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

from sklearn.datasets import load_breast_cancer

LABEL_COLUMN = "malignant"
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "data" / "breast_cancer.csv"
# Enough significant digits to reproduce every value of the source data exactly, and a fixed
# format so the file is byte-identical on every platform and scikit-learn version.
FLOAT_FORMAT = "{:.10g}"


def snake_case(name: str) -> str:
    """'mean concave points' -> 'mean_concave_points'."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def export(output: Path) -> int:
    """Write the CSV; return the number of data rows written."""
    bunch = load_breast_cancer()
    # sklearn's target is 0 = malignant, 1 = benign; our label says "is malignant".
    malignant_target = list(bunch.target_names).index("malignant")
    header = [snake_case(str(name)) for name in bunch.feature_names] + [LABEL_COLUMN]
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for values, target in zip(bunch.data, bunch.target):  # noqa: B905 (py3.8 in container)
            row = [FLOAT_FORMAT.format(float(value)) for value in values]
            row.append("1" if int(target) == malignant_target else "0")
            writer.writerow(row)
    return len(bunch.target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="CSV path to write")
    args = parser.parse_args(argv)
    rows = export(args.output)
    print(f"wrote {rows} rows to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
