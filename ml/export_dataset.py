"""Export scikit-learn's bundled datasets to the dataset contract's CSV, one per problem type.

    python ml/export_dataset.py                     # all three into ml/data/
    python ml/export_dataset.py --dataset wine --output /tmp/wine.csv

Run once; the CSVs are kept in the repository. The data ships with scikit-learn, so nothing is
downloaded:
- breast_cancer (binary classification): label `malignant`, 1 for a malignant tumour;
- wine (multiclass classification): label `cultivar`, scikit-learn's class names;
- diabetes (regression): label `progression`, disease progression one year after baseline,
  with the features in their original units (scikit-learn's `scaled=False`).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

DATA_DIR = Path(__file__).resolve().parent / "data"
# Enough significant digits to reproduce every value of the source data exactly, and a fixed
# format so the file is byte-identical on every platform and scikit-learn version.
FLOAT_FORMAT = "{:.10g}"


@dataclass(frozen=True)
class Export:
    name: str
    label: str
    load: Callable[[], Any]
    label_of: Callable[[Any, Any], str]  # (bunch, target) -> the label column's text

    @property
    def default_output(self) -> Path:
        return DATA_DIR / f"{self.name}.csv"


def _malignant(bunch: Any, target: Any) -> str:
    # sklearn's target is 0 = malignant, 1 = benign; our label says "is malignant".
    return "1" if bunch.target_names[int(target)] == "malignant" else "0"


EXPORTS = {
    export.name: export
    for export in (
        Export("breast_cancer", "malignant", load_breast_cancer, _malignant),
        Export("wine", "cultivar", load_wine, lambda b, t: str(b.target_names[int(t)])),
        Export("diabetes", "progression", lambda: load_diabetes(scaled=False),
               lambda b, t: FLOAT_FORMAT.format(float(t))),
    )
}  # fmt: skip


def snake_case(name: str) -> str:
    """'mean concave points' -> 'mean_concave_points'; 'od280/od315_of_diluted_wines' ->
    'od280_od315_of_diluted_wines'."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def export(name: str, output: Path) -> int:
    """Write the CSV; return the number of data rows written."""
    spec = EXPORTS[name]
    bunch = spec.load()
    header = [snake_case(str(feature)) for feature in bunch.feature_names] + [spec.label]
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for values, target in zip(bunch.data, bunch.target, strict=True):
            row = [FLOAT_FORMAT.format(float(value)) for value in values]
            row.append(spec.label_of(bunch, target))
            writer.writerow(row)
    return len(bunch.target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*EXPORTS, "all"], default="all")
    parser.add_argument("--output", type=Path, help="CSV path (one dataset); default ml/data/")
    args = parser.parse_args(argv)
    names = list(EXPORTS) if args.dataset == "all" else [args.dataset]
    if args.output and len(names) > 1:
        parser.error("--output needs one --dataset")
    for name in names:
        output = args.output or EXPORTS[name].default_output
        print(f"wrote {export(name, output)} rows of {name} to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
