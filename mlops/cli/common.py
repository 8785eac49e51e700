"""What every command against a stack shares: the options that say which stack in which account
(`--stack-name`, `--config-env`, `--profile`, `--region`, `--endpoint-url`), `--json`, and the
Context a command reads the control plane and prints through."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

from mlops.cli.render import Progress, parse_span, parse_time, print_json
from mlops.cli.samconfig import DEFAULT_ENV, SamConfigError, read_samconfig
from mlops.control.aws import AwsTarget
from mlops.control.errors import UsageError
from mlops.control.plane import WORKFLOWS, ControlPlane


def target_options(suppress: bool) -> argparse.ArgumentParser:
    """The options as a parent parser. The root gets real defaults; each command the same
    options with no defaults, so they work before or after the command's name."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("which stack, where")
    group.add_argument(
        "--stack-name", default=default(None), help="default: samconfig.toml's, for --config-env"
    )
    group.add_argument(
        "--config-env",
        default=default(DEFAULT_ENV),
        help="samconfig.toml environment (dev, staging, prod) for the stack name and region",
    )
    group.add_argument("--config-file", default=default("samconfig.toml"), help=argparse.SUPPRESS)
    group.add_argument("--profile", default=default(None), help="AWS profile")
    group.add_argument("--region", default=default(None), help="AWS region")
    group.add_argument(
        "--endpoint-url",
        default=default(None),
        help="the twin's address, e.g. http://127.0.0.1:4566 (or set AWS_ENDPOINT_URL)",
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="JSON output for scripts"
    )
    return parent


def workflow_option(parser: argparse.ArgumentParser, keys: Iterable[str] = WORKFLOWS) -> None:
    """--workflow, repeatable; without it a command covers every workflow in `keys`."""
    choices = list(keys)
    parser.add_argument(
        "--workflow",
        action="append",
        choices=choices,
        help=f"only this workflow (repeatable); default: all of {', '.join(choices)}",
    )
    parser.set_defaults(all_workflows=choices)


def time_arg(text: str) -> Any:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def span_arg(text: str) -> Any:
    try:
        return parse_span(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Context:
    """One command's view of the control plane, and where it prints."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json: bool = args.json

    @cached_property
    def plane(self) -> ControlPlane:
        try:
            config = read_samconfig(Path(self.args.config_file), self.args.config_env)
        except SamConfigError as exc:
            raise UsageError(str(exc)) from exc
        stack = self.args.stack_name or (config.stack_name if config else None)
        if not stack:
            raise UsageError("no stack name: pass --stack-name, or run where samconfig.toml is")
        region = self.args.region or (config.region if config else None)
        aws = AwsTarget(self.args.profile, region, self.args.endpoint_url)
        return ControlPlane.connect(aws, stack)

    def workflows(self) -> list[str]:
        chosen = getattr(self.args, "workflow", None)
        return list(chosen or getattr(self.args, "all_workflows", WORKFLOWS))

    @cached_property
    def progress(self) -> Progress:
        """Progress goes to stdout, or to stderr when stdout carries JSON."""
        return Progress(sys.stderr if self.json else sys.stdout)

    def say(self, text: str = "") -> None:
        """A line for people; with --json it goes to stderr, keeping stdout pure JSON."""
        print(text, file=sys.stderr if self.json else sys.stdout, flush=True)

    def result(self, value: Any, human: str) -> None:
        """The command's result: JSON with --json, else the human text."""
        if self.json:
            print_json(value)
        else:
            print(human, flush=True)
