"""Benchmark: the dataset check (ValidateDataset's validate_csv) on the inputs that used to knock
it over: a 50 MB CSV and a header of 100,000 columns.

    .venv/bin/python bench/validation.py [--validator PATH] [--timeout SECONDS]

Each case runs in a fresh Python process, twice: once for seconds and peak resident memory
(ru_maxrss, minus what the process held before the check), once under tracemalloc for the peak
of Python allocations (slower; its seconds are not reported). The check is fed as the function
feeds it: a validator that reads streams (it defines CHUNK_BYTES) gets the open file, as it
gets the S3 object's StreamingBody; an older one gets the whole object's bytes, as
ValidateDataset read them before (S3Store.read_bytes), and that read is measured with it.

`--validator PATH` benchmarks another copy of domain/dataset.py, e.g. main's, for "before"
figures: `git show main:layers/common/mlops_common/domain/dataset.py > /tmp/before.py`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "common"
DEFAULT_VALIDATOR = LAYER / "mlops_common" / "domain" / "dataset.py"
DATASET = ROOT / "ml" / "data" / "breast_cancer.csv"
LABEL = "malignant"
LARGE_BYTES = 50 * 1000 * 1000  # "50 MB"; the contract's limit is 50 MiB
WIDE_COLUMNS = 100_000
WIDE_ROWS = 60


def write_large(path: Path) -> str:
    """The shipped dataset's rows repeated to 50 MB: valid, 30 features."""
    header, *rows = DATASET.read_text(encoding="utf-8").splitlines(keepends=True)
    body = "".join(rows).encode()
    with path.open("wb") as out:
        out.write(header.encode())
        written = len(header)
        while written + len(body) <= LARGE_BYTES:
            out.write(body)
            written += len(body)
    return f"{written / 1e6:.0f} MB CSV"


def write_wide(path: Path) -> str:
    """A header of 100,000 feature columns and the label, and 60 valid rows."""
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join([f"feature_{i}" for i in range(WIDE_COLUMNS)] + [LABEL]) + "\n")
        for row in range(WIDE_ROWS):
            out.write("1," * WIDE_COLUMNS + f"{row % 2}\n")
    return f"{WIDE_COLUMNS:,}-column header"


def child(validator: Path, data: Path, trace: bool) -> None:
    """In a fresh process: import the validator, check `data`, print one JSON line."""
    import importlib.util
    import resource
    import tracemalloc

    sys.path.insert(0, str(LAYER))
    import mlops_common.domain  # noqa: F401  (the package the validator's imports resolve in)

    spec = importlib.util.spec_from_file_location("mlops_common.domain.benched", validator)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    streams = hasattr(module, "CHUNK_BYTES")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        with data.open("rb") as handle:
            source = handle if streams else handle.read()
            outcome = "valid: {} rows, {} features".format(*module.validate_csv(source, LABEL, 50))
    except Exception as exc:  # noqa: BLE001 - the outcome is reported, whatever it is
        outcome = f"{type(exc).__name__}: {str(exc)[:60]}"
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline  # KiB on Linux
    print(json.dumps({"seconds": seconds, "rss_kib": rss, "traced": peak, "outcome": outcome,
                      "streams": streams}))  # fmt: skip


def measure(validator: Path, data: Path, trace: bool, timeout: float) -> dict | None:
    command = [sys.executable, __file__, "--child", str(data), "--validator", str(validator)]
    try:
        done = subprocess.run(
            command + (["--trace"] if trace else []),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validator", type=Path, default=DEFAULT_VALIDATOR)
    parser.add_argument("--timeout", type=float, default=900, help="per measurement")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.validator, args.child, args.trace)
        return
    print(f"validator: {args.validator}")
    print(f"{'case':<26}{'seconds':>9}{'peak RSS +MiB':>15}{'traced peak MiB':>17}  outcome")
    with tempfile.TemporaryDirectory() as folder:
        for write in (write_large, write_wide):
            data = Path(folder) / f"{write.__name__}.csv"
            case = write(data)
            timed = measure(args.validator, data, False, args.timeout)
            if timed is None:
                print(f"{case:<26}{'> ' + str(int(args.timeout)):>9}  (timed out)")
                continue
            traced = measure(args.validator, data, True, args.timeout)
            peak = f"{traced['traced'] / 2**20:.1f}" if traced else "timed out"
            print(
                f"{case:<26}{timed['seconds']:>9.2f}{timed['rss_kib'] / 1024:>15.1f}"
                f"{peak:>17}  {timed['outcome']}"
            )


if __name__ == "__main__":
    main()
