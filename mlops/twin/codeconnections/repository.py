"""The connected repository: a local bare git repository standing for the provider's
repository (`FullRepositoryId`, e.g. "acme/mlops"), read with the git command line."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

ZERO = "0" * 40
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


class GitError(RuntimeError):
    """A git command failed; the message carries git's own."""


@dataclass(frozen=True)
class Commit:
    id: str
    message: str
    author_date: str  # ISO-8601, as the source action's AuthorDate variable
    author: str


@dataclass(frozen=True)
class LocalRepository:
    full_repository_id: str
    connection_arn: str
    path: Path  # the bare repository

    def git(self, *args: str, input_bytes: bytes | None = None) -> bytes:
        result = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            input=input_bytes,
            capture_output=True,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.path), **_GIT_ENV},
            check=False,
        )
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise GitError(f"git {' '.join(args)}: {message}")
        return result.stdout

    def resolve(self, ref: str) -> str | None:
        """The commit a branch, tag or commit id names; None if it does not exist."""
        try:
            return (
                self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
            )
        except GitError:
            return None

    def branch_head(self, branch: str) -> str | None:
        return self.resolve(f"refs/heads/{branch}")

    def commit(self, commit_id: str) -> Commit:
        out = self.git("show", "-s", "--format=%H%x00%aI%x00%an%x00%B", commit_id).decode()
        sha, date, author, message = out.split("\0", 3)
        return Commit(sha, message.strip(), date, author)

    def changed_files(self, old: str, new: str) -> list[str]:
        """Paths the pushed commits touch: the diff old..new; for a new ref, the files of the
        commits no other ref already had (or of its head commit when it had none)."""
        if old != ZERO:
            return self._names("diff", "--name-only", "--no-renames", old, new)
        others = [
            ref
            for ref in self.git("for-each-ref", "--format=%(objectname)").decode().split()
            if ref != new
        ]
        files = self._names(
            "log", "--name-only", "--no-renames", "--format=", new, "--not", *others
        )
        return files or self._names(
            "diff-tree", "--root", "--no-commit-id", "-r", "--name-only", "--no-renames", new
        )

    def archive_zip(self, commit_id: str) -> bytes:
        """The commit's tree as a ZIP with the files at its root (CODE_ZIP)."""
        return self.git("archive", "--format=zip", commit_id)

    def _names(self, *args: str) -> list[str]:
        lines = self.git(*args).decode().splitlines()
        return sorted({line for line in lines if line.strip()})


def init_bare(path: Path, default_branch: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
        check=True,
        capture_output=True,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(path.parent), **_GIT_ENV},
    )
