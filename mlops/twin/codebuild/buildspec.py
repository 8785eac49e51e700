"""The buildspec, as the CodeBuild user guide's "Build specification reference" describes
version 0.2 (docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html):

    version: 0.2
    env: {shell, variables, exported-variables}
    phases: {install|pre_build|build|post_build: {on-failure, runtime-versions (install only),
             commands, finally}}
    artifacts: {files, base-directory, discard-paths, name, secondary-artifacts}

What the twin cannot honour is refused, never ignored: `parameter-store`, `secrets-manager`,
`run-as`, `reports` and `cache` fail the build with YAML_FILE_ERROR naming the key, and
`runtime-versions` other than what the twin's build image has fail with CodeBuild's own text:
  "Unknown runtime named 'nodejs'. This build image has the following runtimes: python"
  "Unknown runtime version named '3.8' of python. This build image has the following versions:
   3.11"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

PHASES = ("install", "pre_build", "build", "post_build")
# The twin's build image: the interpreter the twin itself runs on (Python 3.11).
RUNTIMES = {"python": ("3.11",)}
SHELLS = ("/bin/sh", "sh", "bash", "/bin/bash")
_UNSUPPORTED = {
    "env": ("parameter-store", "secrets-manager", "git-credential-helper"),
    "": ("run-as", "reports", "cache", "batch", "proxy"),
}


class BuildspecError(ValueError):
    """YAML_FILE_ERROR: the buildspec cannot run; the message is what CodeBuild reports."""


@dataclass(frozen=True)
class Phase:
    name: str
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: str = "ABORT"  # ABORT | CONTINUE


@dataclass(frozen=True)
class ArtifactSpec:
    files: tuple[str, ...]
    base_directory: str = ""
    discard_paths: bool = False
    name: str | None = None


@dataclass(frozen=True)
class Buildspec:
    shell: str = "/bin/sh"
    variables: dict[str, str] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()
    runtime_versions: dict[str, str] = field(default_factory=dict)
    phases: dict[str, Phase] = field(default_factory=dict)
    artifacts: ArtifactSpec | None = None
    secondary_artifacts: dict[str, ArtifactSpec] = field(default_factory=dict)


def parse_buildspec(text: str) -> Buildspec:
    try:
        # BaseLoader keeps every scalar as written: `python: 3.10` is "3.10", not 3.1.
        document = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 - no object tags
    except yaml.YAMLError as error:
        raise BuildspecError(f"Invalid buildspec: {error}") from None
    if not isinstance(document, dict):
        raise BuildspecError("Invalid buildspec: expected a YAML mapping")
    if document.get("version") != "0.2":
        raise BuildspecError(
            f"The twin runs buildspec version 0.2 only, got {document.get('version')!r}"
        )
    _refuse_unsupported(document)
    env = _mapping(document.get("env"), "env")
    shell = str(env.get("shell", "/bin/sh"))
    if shell not in SHELLS:
        raise BuildspecError(f"Unsupported shell {shell!r}; supported: bash, /bin/sh")
    phases_doc = _mapping(document.get("phases"), "phases")
    unknown = sorted(set(phases_doc) - set(PHASES))
    if unknown:
        raise BuildspecError(f"Unknown phase(s) {unknown}; allowed: {list(PHASES)}")
    phases = {name: _phase(name, phases_doc[name]) for name in PHASES if name in phases_doc}
    runtimes = _mapping((phases_doc.get("install") or {}).get("runtime-versions"), "runtime")
    for name, doc in phases_doc.items():
        if name != "install" and isinstance(doc, dict) and "runtime-versions" in doc:
            raise BuildspecError(f"runtime-versions is allowed only in the install phase: {name}")
    artifacts_doc = document.get("artifacts")
    artifacts, secondary = None, {}
    if artifacts_doc is not None:
        artifacts_doc = _mapping(artifacts_doc, "artifacts")
        secondary = {
            str(key): _artifact(_mapping(value, f"secondary-artifacts.{key}"))
            for key, value in _mapping(artifacts_doc.get("secondary-artifacts"), "x").items()
        }
        if "files" in artifacts_doc:
            artifacts = _artifact(artifacts_doc)
    return Buildspec(
        shell=shell,
        variables={str(k): _scalar(v) for k, v in _mapping(env.get("variables"), "env").items()},
        exported_variables=tuple(str(v) for v in env.get("exported-variables") or ()),
        runtime_versions={str(k): _scalar(v) for k, v in runtimes.items()},
        phases=phases,
        artifacts=artifacts,
        secondary_artifacts=secondary,
    )


def check_runtimes(requested: dict[str, str]) -> None:
    """Refuse what the twin's image does not have, in CodeBuild's words."""
    for runtime, version in requested.items():
        if runtime not in RUNTIMES:
            raise BuildspecError(
                f"Unknown runtime named '{runtime}'. This build image has the following "
                f"runtimes: {', '.join(sorted(RUNTIMES))}"
            )
        if version not in RUNTIMES[runtime]:
            raise BuildspecError(
                f"Unknown runtime version named '{version}' of {runtime}. This build image has "
                f"the following versions: {', '.join(RUNTIMES[runtime])}"
            )


def _phase(name: str, doc: Any) -> Phase:
    doc = _mapping(doc, name)
    on_failure = str(doc.get("on-failure", "ABORT")).upper()
    if on_failure not in ("ABORT", "CONTINUE"):
        raise BuildspecError(f"{name}: on-failure must be ABORT or CONTINUE, got {on_failure}")
    commands = doc.get("commands") or []
    if not isinstance(commands, list):
        raise BuildspecError(f"{name}: commands must be a list")
    return Phase(
        name=name,
        commands=tuple(str(c) for c in commands),
        finally_commands=tuple(str(c) for c in doc.get("finally") or []),
        on_failure=on_failure,
    )


def _artifact(doc: dict[str, Any]) -> ArtifactSpec:
    files = doc.get("files")
    if isinstance(files, str):
        files = [files]
    if not files:
        raise BuildspecError("artifacts: files is required")
    return ArtifactSpec(
        files=tuple(str(f) for f in files),
        base_directory=str(doc.get("base-directory") or "").strip("/"),
        discard_paths=str(doc.get("discard-paths", "no")).lower() in ("yes", "true"),
        name=str(doc["name"]) if doc.get("name") else None,
    )


def _refuse_unsupported(document: dict[str, Any]) -> None:
    for section, keys in _UNSUPPORTED.items():
        scope = document if not section else (document.get(section) or {})
        for key in keys:
            if isinstance(scope, dict) and key in scope:
                where = f"{section}/{key}" if section else key
                raise BuildspecError(f"The twin does not support buildspec {where}")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BuildspecError(f"Invalid buildspec: {where} must be a mapping")
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, dict | list):
        raise BuildspecError(f"Invalid buildspec: expected a scalar, got {value!r}")
    return "" if value is None else str(value)
