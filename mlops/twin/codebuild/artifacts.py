"""A build's output artifact, as the buildspec's `artifacts` section describes it: the files
matching `files` (globs relative to the source directory, or to `base-directory` when given),
zipped with their relative paths, or with their bare names when `discard-paths` is yes
(Build specification reference, artifacts)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from mlops.twin.aws.globs import glob_match
from mlops.twin.codebuild.buildspec import ArtifactSpec


class ArtifactError(Exception):
    """CLIENT_ERROR in UPLOAD_ARTIFACTS: the message is what CodeBuild reports."""


def collect(spec: ArtifactSpec, src_dir: Path) -> list[tuple[Path, str]]:
    """(file on disk, name in the zip) for every file the spec selects, sorted by name."""
    root = src_dir / spec.base_directory if spec.base_directory else src_dir
    if not root.is_dir():
        raise ArtifactError(f"no matching base directory path found for {spec.base_directory}")
    selected: dict[str, Path] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if any(glob_match(pattern.removeprefix("./"), relative) for pattern in spec.files):
            name = path.name if spec.discard_paths else relative
            selected.setdefault(name, path)
    if not selected:
        raise ArtifactError(f"no matching artifact paths found for {list(spec.files)}")
    return [(path, name) for name, path in sorted(selected.items())]


def zip_files(files: list[tuple[Path, str]], target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in files:
            archive.write(path, name)
    return target
