"""The one contract every seam of the twin follows.

A seam is what the twin adds to moto or changes in it: a patch of a moto internal, a worker
pool that runs Lambda handlers, a thread that evaluates alarms. Each installs and uninstalls
the same way, so `LocalCloud` can enter them into one `contextlib.ExitStack` and close them in
the reverse order:

    with SomeSeam(...) as seam:   # install()
        ...                       # the twin behaves as the seam says
                                  # uninstall(): moto as it was, nothing of the seam running

`install()` and `uninstall()` may be called again; the second call does nothing. A seam that
owns workers (threads, processes) is done once uninstalled: it does not install again.

`Patch` is the single way the twin replaces an attribute of moto (a function of a module, a
method or class attribute): it keeps what was there and puts exactly that back. `PatchSeam`
is a seam made of patches.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self

_ABSENT = object()  # the attribute was inherited or missing, not set on the owner itself


class Seam(ABC):
    @abstractmethod
    def install(self) -> None:
        """From now on the twin behaves as this seam says."""

    @abstractmethod
    def uninstall(self) -> None:
        """Back to moto as it was; nothing this seam started keeps running."""

    def __enter__(self) -> Self:
        self.install()
        return self

    def __exit__(self, *_: object) -> None:
        self.uninstall()


@dataclass
class Patch:
    """`owner.name` replaced by `replacement` between apply() and restore().

    What was set on the owner itself is put back as it was; an attribute the owner only
    inherited (or did not have) is deleted again, so the inherited one shows through.
    """

    owner: Any
    name: str
    replacement: Any
    _saved: Any = field(default=_ABSENT, init=False, repr=False)
    applied: bool = field(default=False, init=False)

    def apply(self) -> None:
        if self.applied:
            return
        self._saved = vars(self.owner).get(self.name, _ABSENT)
        setattr(self.owner, self.name, self.replacement)
        self.applied = True

    def restore(self) -> None:
        if not self.applied:
            return
        if self._saved is _ABSENT:
            delattr(self.owner, self.name)
        else:
            setattr(self.owner, self.name, self._saved)
        self._saved, self.applied = _ABSENT, False


@dataclass
class ItemPatch(Patch):
    """`owner[name]` (an item of a mapping: moto's config, os.environ) replaced, then put back
    as it was, or removed if it was not there."""

    def apply(self) -> None:
        if self.applied:
            return
        self._saved = self.owner.get(self.name, _ABSENT)
        self.owner[self.name] = self.replacement
        self.applied = True

    def restore(self) -> None:
        if not self.applied:
            return
        if self._saved is _ABSENT:
            del self.owner[self.name]
        else:
            self.owner[self.name] = self._saved
        self._saved, self.applied = _ABSENT, False


@dataclass
class ImportedPatch(Patch):
    """A module function other modules imported by name (`from owner import name`): replaced
    in `owner` and in every loaded module under `package` that holds it, and restored in every
    module that holds the replacement, including modules first imported while it applied."""

    package: str = ""

    def apply(self) -> None:
        if self.applied:
            return
        original = getattr(self.owner, self.name)
        super().apply()
        self._rebind(original, self.replacement)

    def restore(self) -> None:
        if not self.applied:
            return
        super().restore()
        self._rebind(self.replacement, getattr(self.owner, self.name))

    def _rebind(self, old: Any, new: Any) -> None:
        for module in list(sys.modules.values()):
            name = getattr(module, "__name__", "")
            if name.startswith(self.package) and getattr(module, self.name, None) is old:
                setattr(module, self.name, new)


class PatchSeam(Seam):
    """A seam made of patches of moto: applied in order, restored in the reverse order."""

    def __init__(self) -> None:
        self._applied: list[Patch] = []

    @abstractmethod
    def patches(self) -> Sequence[Patch]:
        """The patches to apply, built when the seam installs (moto as it is then)."""

    @property
    def installed(self) -> bool:
        return bool(self._applied)

    def install(self) -> None:
        if self._applied:
            return
        try:
            for patch in self.patches():
                patch.apply()
                self._applied.append(patch)
        except BaseException:
            self.uninstall()
            raise

    def uninstall(self) -> None:
        while self._applied:
            self._applied.pop().restore()


class Patches(PatchSeam):
    """A seam of the patches given: for a one-off change, such as an environment variable."""

    def __init__(self, *patches: Patch) -> None:
        super().__init__()
        self._patches = patches

    def patches(self) -> Sequence[Patch]:
        return self._patches
