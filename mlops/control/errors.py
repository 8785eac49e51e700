"""What can go wrong for an operator, each with the exit code `mlops` ends with.

The class says what kind of problem it is; the message is the one line the operator reads.
"""

from __future__ import annotations


class ControlError(Exception):
    """A problem that ends the command with one clear line."""

    exit_code = 1


class Failed(ControlError):
    """The call or the workflow it started failed."""


class UsageError(ControlError):
    """Arguments that cannot work: a bad time, no stack name, an unknown environment."""

    exit_code = 2


class NoCredentials(ControlError):
    """No credentials, expired ones, or not allowed to make the call."""

    exit_code = 3


class NotFound(ControlError):
    """No such stack, version, execution, dataset or resource."""

    exit_code = 4


class Refused(ControlError):
    """Nothing to do, or not allowed now: nothing to roll back, a handled dataset version
    without --force, a replay window outside the archive's retention."""

    exit_code = 5


class TimedOut(ControlError):
    """A wait ran past its --timeout; the work may still finish."""

    exit_code = 6


EXIT_CODES = {
    0: "success",
    1: "failed: an AWS call, or the workflow the command started or followed, failed",
    2: "usage: invalid arguments",
    3: "credentials: none found, expired, or access denied",
    4: "not found: no such stack, version, execution or dataset",
    5: "refused: nothing to do (nothing to roll back, already handled, window outside "
    "the archive's retention)",
    6: "timed out waiting; the work may still finish",
    130: "interrupted (Ctrl-C)",
}
