"""samconfig.toml as `sam deploy` reads it ("AWS SAM CLI configuration file", AWS SAM developer
guide): a table per environment (`--config-env`, default `default`), a table per command in it,
and `global` for every command. `mlops` reads what `sam deploy --config-env ENV` deploys: the
stack name, the region and the parameter overrides."""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ENV = "default"


@dataclass(frozen=True)
class SamConfig:
    env: str
    stack_name: str | None = None
    region: str | None = None
    parameter_overrides: dict[str, str] = field(default_factory=dict)


class SamConfigError(ValueError):
    """samconfig.toml cannot be read, or has no such environment."""


def read_samconfig(path: Path, env: str = DEFAULT_ENV) -> SamConfig | None:
    """The deploy settings of `env`, or None without a samconfig.toml at `path`."""
    if not path.is_file():
        if env != DEFAULT_ENV:
            raise SamConfigError(f"--config-env {env}: no {path} here")
        return None
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SamConfigError(f"{path}: {exc}") from exc
    if env not in document:
        if env == DEFAULT_ENV:
            return SamConfig(env)
        known = ", ".join(k for k in document if isinstance(document[k], dict))
        raise SamConfigError(f"{path} has no environment {env!r} (it has: {known})")
    section = document[env]
    values: dict[str, Any] = {}
    for command in ("global", "deploy"):  # the command's own values win over global ones
        values |= (section.get(command) or {}).get("parameters") or {}
    return SamConfig(
        env,
        values.get("stack_name"),
        values.get("region"),
        parse_overrides(values.get("parameter_overrides") or []),
    )


def parse_overrides(value: str | list[str]) -> dict[str, str]:
    """`Key=Value` items, as a list or one string (shell-quoted values allowed), as
    `sam deploy --parameter-overrides` takes them."""
    items = shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
    overrides = {}
    for item in items:
        if item.startswith("ParameterKey="):  # the CloudFormation form, which sam takes too
            key, sep, val = item.removeprefix("ParameterKey=").partition(",ParameterValue=")
        else:
            key, sep, val = item.partition("=")
        if not sep or not key:
            raise SamConfigError(f"parameter override {item!r} is not Key=Value")
        overrides[key] = val
    return overrides
