"""The CommonLayer's locked requirements: every package pinned with a hash, none of the
packages the python3.11 runtime provides, and nothing missing (the build installs them with
--no-deps, so a dependency left out of the lock would be missing on Lambda, not at build)."""

from __future__ import annotations

import re
from importlib.metadata import distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common"
LOCKED = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+) --hash=sha256:[0-9a-f]{64}$")
#: boto3 and its dependencies, which the python3.11 Lambda runtime ships.
RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}


def requirement_lines(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def locked() -> dict[str, str]:
    pins = {}
    for line in requirement_lines(LAYER / "requirements.txt"):
        match = LOCKED.match(line)
        assert match, f"not pinned with a sha256 hash: {line!r}"
        pins[canonicalize_name(match["name"])] = match["version"]
    return pins


def dependencies(requirement: Requirement, found: set[str]) -> set[str]:
    """Names of `requirement` and of everything it needs, per the metadata of the installed
    distributions (the venv pins the same top-level versions as the layer)."""
    name = canonicalize_name(requirement.name)
    if name in found:
        return found
    found.add(name)
    for line in distribution(name).requires or []:
        needed = Requirement(line)
        wanted = any(
            needed.marker is None or needed.marker.evaluate({"extra": extra})
            for extra in requirement.extras or {""}
        )
        if wanted:
            dependencies(needed, found)
    return found


def test_every_locked_line_is_an_exact_pin_with_a_sha256_hash() -> None:
    assert len(locked()) == len(requirement_lines(LAYER / "requirements.txt")) > 0


def test_the_layer_leaves_boto3_botocore_and_their_dependencies_to_the_runtime() -> None:
    assert set(locked()) & RUNTIME == set()


def test_the_lock_holds_every_dependency_of_the_layer_but_the_runtime_ones() -> None:
    needed: set[str] = set()
    for line in requirement_lines(LAYER / "requirements.in"):
        dependencies(Requirement(line), needed)
    assert "botocore" in needed  # aws-xray-sdk needs it: the runtime's must do
    assert set(locked()) == needed - RUNTIME


def test_the_layer_pins_the_versions_the_venv_and_the_twin_run() -> None:
    """The twin runs handlers with the venv's packages; both must be the layer's versions."""
    venv = {}
    for line in requirement_lines(ROOT / "requirements.txt"):
        if not line.startswith("-"):
            requirement = Requirement(line)
            venv[canonicalize_name(requirement.name)] = str(requirement.specifier)
    for line in requirement_lines(LAYER / "requirements.in"):
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert venv[name] == str(requirement.specifier) == f"=={locked()[name]}", name
