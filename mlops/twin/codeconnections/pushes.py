"""The connected repositories of the local cloud and the pushes they report.

`create(full_repository_id, connection_arn)` makes the bare repository the user adds as a git
remote, installs its hook and completes the connection's handshake (PENDING -> AVAILABLE). The
hook's report becomes one `Push` per updated branch or tag (deleted refs start nothing, as a
deleted branch starts no pipeline), handed to every listener; CodePipeline's triggers listen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.twin.aws.responses import AwsError
from mlops.twin.codeconnections.connections import Connections
from mlops.twin.codeconnections.hook import install_hook
from mlops.twin.codeconnections.repository import ZERO, Commit, LocalRepository, init_bare
from mlops.twin.seam import Seam

log = logging.getLogger(__name__)
_KINDS = {"refs/heads/": "branch", "refs/tags/": "tag"}


@dataclass(frozen=True)
class Push:
    repository: LocalRepository
    ref: str
    kind: str  # "branch" | "tag"
    name: str  # branch or tag name
    old: str
    new: str
    commit: Commit  # the pushed head
    changed_files: tuple[str, ...]


Listener = Callable[[Push], list[str]]  # returns lines for the pusher ("remote: ...")


class ConnectedRepositories(Seam):
    def __init__(self, connections: Connections, root: Path, port: int) -> None:
        self.connections = connections
        self._root, self._port = Path(root), port
        self._lock = threading.Lock()
        self._repositories: dict[str, LocalRepository] = {}
        self._listeners: list[Listener] = []
        self._closed = False

    def create(
        self, full_repository_id: str, connection_arn: str, default_branch: str = "main"
    ) -> LocalRepository:
        """The local stand-in for `full_repository_id` behind `connection_arn` (created once;
        the same object again afterwards). The connection becomes AVAILABLE."""
        with self._lock:
            if full_repository_id in self._repositories:
                return self._repositories[full_repository_id]
            path = self._root / f"{full_repository_id}.git"
            init_bare(path, default_branch)
            install_hook(path, self._port, full_repository_id)
            repository = LocalRepository(full_repository_id, connection_arn, path)
            self._repositories[full_repository_id] = repository
        connection = self.connections.find(connection_arn) or self.connections.adopt(connection_arn)
        connection.status = "AVAILABLE"
        return repository

    def find(self, connection_arn: str, full_repository_id: str) -> LocalRepository | None:
        """The repository a source action names, if it is bound to that connection."""
        with self._lock:
            repository = self._repositories.get(full_repository_id)
        if repository is None:
            return None
        same = self.connections.find(repository.connection_arn)
        return repository if same is self.connections.find(connection_arn) else None

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def receive(self, report: dict[str, Any]) -> list[str]:
        """The hook's report of one push: every listener hears of each updated ref."""
        with self._lock:
            if self._closed:
                raise AwsError("the twin is stopping", "ServiceUnavailableException", 503)
            repository = self._repositories.get(report.get("repository", ""))
            listeners = list(self._listeners)
        if repository is None:
            raise AwsError(f"unknown repository {report.get('repository')!r}", status=404)
        connection = self.connections.find(repository.connection_arn)
        if connection is None or connection.status != "AVAILABLE":
            return [f"connection {repository.connection_arn} is not AVAILABLE: nothing starts"]
        messages: list[str] = []
        for update in report.get("updates", []):
            push = _push(repository, update["ref"], update["old"], update["new"])
            if push is None:
                continue
            for listener in listeners:
                try:
                    messages += listener(push)
                except Exception:  # noqa: BLE001 - one broken listener must not hide the push
                    log.exception("a push listener failed on %s", push.ref)
        return messages

    def install(self) -> None:
        """Nothing runs until a repository is created and pushed to."""

    def uninstall(self) -> None:
        with self._lock:
            self._closed = True


def _push(repository: LocalRepository, ref: str, old: str, new: str) -> Push | None:
    kind = next((k for prefix, k in _KINDS.items() if ref.startswith(prefix)), None)
    if kind is None or new == ZERO:
        return None
    name = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    commit_id = repository.resolve(new) or new  # an annotated tag points at its commit
    return Push(
        repository=repository,
        ref=ref,
        kind=kind,
        name=name,
        old=old,
        new=commit_id,
        commit=repository.commit(commit_id),
        changed_files=tuple(repository.changed_files(old, commit_id)),
    )
