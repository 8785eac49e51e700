"""Benchmark: cold-start import time of every built handler against a bare `import boto3`.

    make build && .venv/bin/python bench/cold_start.py [--runs N] [--trace-disabled]
                                                        [--breakdown validate_dataset]

Each measurement is a fresh interpreter (`python -I -S -B`: no site-packages, no environment
path, no bytecode written, as /var/task and /opt are read-only on Lambda) whose sys.path is
exactly what a python3.11 Lambda function sees: its built function directory, the built
CommonLayer's python/ directory, and a stand-in for the runtime's own packages (a temporary
directory linking the venv's boto3, botocore, s3transfer, jmespath, dateutil, six and urllib3,
the packages the managed runtime ships). It times `import app` once; the bare process times
`import boto3` once. Rounds alternate the two, per handler, and the table shows medians.

The environment of a handler process is the one its function gets: the variables template.yaml
sets (resolved by the twin, which provisions the template with parameters), plus the variables
Lambda itself defines ("Defined runtime environment variables", Lambda developer guide). The
template turns on active tracing, so Powertools' Tracer is on, as deployed; --trace-disabled
sets POWERTOOLS_TRACE_DISABLED=true instead (what the twin and the unit tests do).

Targets (issue 8): every handler <= 1.3x the bare boto3 import; the layer < 10 MB unzipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / ".aws-sam" / "build"
LAYER = "CommonLayer"
REGION = "us-east-1"
RATIO_TARGET = 1.3
LAYER_TARGET_MB = 10.0
#: Import names of what the python3.11 runtime provides, and their distributions' names.
RUNTIME_PACKAGES = {
    "boto3": "boto3",
    "botocore": "botocore",
    "s3transfer": "s3transfer",
    "jmespath": "jmespath",
    "dateutil": "python_dateutil",
    "six": "six",
    "urllib3": "urllib3",
}
#: Prints the import's wall-clock and CPU seconds (CPU time is steadier on a shared machine).
CHILD = (
    "import sys, time; sys.path[:0] = sys.argv[2:]; t, c = time.perf_counter(), time.process_time()"
    "; __import__(sys.argv[1]); print(time.perf_counter() - t, time.process_time() - c)"
)


@contextmanager
def runtime_standin() -> Iterator[Path]:
    """A directory holding only the runtime's packages (symlinks into this venv)."""
    with tempfile.TemporaryDirectory(prefix="lambda-runtime-") as tmp:
        runtime = Path(tmp)
        for name, dist in RUNTIME_PACKAGES.items():
            spec = importlib.util.find_spec(name)
            assert spec is not None and spec.origin, f"{name} is not installed in this venv"
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            (runtime / source.name).symlink_to(source)
            for info in source.parent.glob(f"{dist}-*.dist-info"):
                (runtime / info.name).symlink_to(info)
        yield runtime


def function_environments() -> dict[str, tuple[str, dict[str, str]]]:
    """Function directory name -> (logical id, the environment template.yaml gives it)."""
    from mlops.twin.stack import start_stack

    twin = start_stack()
    try:
        return {
            spec.code_dir.name: (logical, dict(spec.environment))
            for logical, spec in twin.stack.functions.items()
        }
    finally:
        twin.close()


def lambda_environment(function_dir: Path, logical: str, runtime: Path) -> dict[str, str]:
    """The variables Lambda defines in every execution environment (none of them secret)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_FUNCTION_NAME": logical,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": str(function_dir),
        "LAMBDA_RUNTIME_DIR": str(runtime),
        "_HANDLER": "app.lambda_handler",
        # Active tracing adds these; loopback here, and an import sends nothing anyway.
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


def timed_import(module: str, path: list[Path], env: dict[str, str], *flags: str) -> str:
    command = [sys.executable, "-I", "-S", "-B", *flags, "-c", CHILD, module, *map(str, path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=path[0])
    if done.returncode != 0:
        raise RuntimeError(f"import {module} from {path[0]} failed:\n{done.stderr}")
    return done.stderr if flags else done.stdout


def tree_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and not p.is_symlink())


def importtime(reports: list[str]) -> dict[str, tuple[float, float, int]]:
    """module -> (cumulative ms, own ms, depth), medians over several `-X importtime` reports."""
    samples: dict[str, list[tuple[int, int, int]]] = {}
    for report in reports:
        for line in report.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
            if match:
                own, cumulative, indent, name = match.groups()
                samples.setdefault(name, []).append((int(cumulative), int(own), len(indent) // 2))
    return {
        name: (
            statistics.median(c for c, _, _ in values) / 1e3,
            statistics.median(o for _, o, _ in values) / 1e3,
            values[0][2],
        )
        for name, values in samples.items()
    }


def origin(module: str) -> str:
    top_level = module.split(".")[0]
    if top_level in RUNTIME_PACKAGES:
        return "runtime (boto3, botocore, ...)"
    if top_level in sys.stdlib_module_names or top_level.startswith("_"):
        return "standard library"
    return ".".join(module.split(".")[:2])


def breakdown(handler: list[str], bare: list[str], top: int) -> list[str]:
    """Where a handler's import time goes: the modules with the largest cumulative times, then
    the own time of the modules a bare boto3 import does not load, summed by origin (the
    runtime's packages, the standard library, or a layer package split one level further)."""
    mine, baseline = importtime(handler), importtime(bare)
    lines = [
        f"medians of {len(handler)} runs under -X importtime: import app "
        f"{mine['app'][0]:.1f} ms, bare import boto3 {baseline['boto3'][0]:.1f} ms",
        f"{'cumulative':>11} {'self':>11}  module",
    ]
    lines += [
        f"{c:8.1f} ms {o:8.1f} ms  {'  ' * d}{n}"
        for n, (c, o, d) in sorted(mine.items(), key=lambda i: -i[1][0])[:top]
    ]
    groups: dict[str, float] = {}
    for name, (_, own, _) in mine.items():
        if name not in baseline:
            groups[origin(name)] = groups.get(origin(name), 0.0) + own
    lines += ["", f"{sum(groups.values()):8.1f} ms  own time of modules a bare boto3 import lacks:"]
    lines += [
        f"{t:8.1f} ms  {g}" for g, t in sorted(groups.items(), key=lambda i: -i[1]) if t >= 0.5
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds per handler (median)")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    parser.add_argument("--trace-disabled", action="store_true")
    parser.add_argument("--only", nargs="*", help="function directory names to measure")
    parser.add_argument("--breakdown", metavar="FUNCTION", help="-X importtime of one handler")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    layer_dir = args.build_dir / LAYER / "python"
    if not layer_dir.is_dir():
        raise SystemExit(f"{layer_dir} does not exist: run `make build` first")
    functions = {  # function directory name -> (its built directory, its environment)
        name: (args.build_dir / logical, env)
        for name, (logical, env) in sorted(function_environments().items())
        if not args.only or name in args.only
    }

    with runtime_standin() as runtime:

        def env_of(built: Path, logical: str, variables: dict[str, str]) -> dict[str, str]:
            env = lambda_environment(built, logical, runtime) | variables
            return env | ({"POWERTOOLS_TRACE_DISABLED": "true"} if args.trace_disabled else {})

        if args.breakdown:
            built, variables = functions[args.breakdown]
            env = env_of(built, built.name, variables)
            bare_env = lambda_environment(built, built.name, runtime)
            handler, bare = [], []
            for _ in range(args.runs):
                bare.append(timed_import("boto3", [runtime], bare_env, "-X", "importtime"))
                path = [built, layer_dir, runtime]
                handler.append(timed_import("app", path, env, "-X", "importtime"))
            print("\n".join(breakdown(handler, bare, args.top)))
            return

        # function -> [(wall s, CPU s) of each run], for the handler and the bare boto3 import
        handler_s: dict[str, list[tuple[float, ...]]] = {name: [] for name in functions}
        boto3_s: dict[str, list[tuple[float, ...]]] = {name: [] for name in functions}
        for _ in range(args.runs):
            for name, (built, variables) in functions.items():
                env = env_of(built, built.name, variables)
                bare_env = lambda_environment(built, built.name, runtime)
                bare = timed_import("boto3", [runtime], bare_env)
                mine = timed_import("app", [built, layer_dir, runtime], env)
                boto3_s[name].append(tuple(map(float, bare.split())))
                handler_s[name].append(tuple(map(float, mine.split())))

    tracing = "disabled (POWERTOOLS_TRACE_DISABLED)" if args.trace_disabled else "on, as deployed"
    print(f"cold import, median of {args.runs} fresh processes; tracing {tracing}")
    print(f"{'handler':<20} {'import s':>9} {'boto3 s':>9} {'ratio':>7} {'CPU ratio':>10}")
    worst = 0.0
    for name in sorted(functions):
        mine, bare = (
            [statistics.median(run[i] for run in runs) for i in (0, 1)]
            for runs in (handler_s[name], boto3_s[name])
        )
        worst = max(worst, mine[0] / bare[0])
        print(
            f"{name:<20} {mine[0]:9.3f} {bare[0]:9.3f} {mine[0] / bare[0]:6.2f}x "
            f"{mine[1] / bare[1]:9.2f}x"
        )
    size_mb = tree_bytes(args.build_dir / LAYER) / 1e6
    print(
        f"worst ratio {worst:.2f}x (target <= {RATIO_TARGET}x: "
        f"{'met' if worst <= RATIO_TARGET else 'MISSED'})"
    )
    print(
        f"{LAYER} unzipped {size_mb:.1f} MB (target < {LAYER_TARGET_MB:.0f} MB: "
        f"{'met' if size_mb < LAYER_TARGET_MB else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
