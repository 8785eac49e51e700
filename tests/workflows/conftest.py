"""The `twin` fixture of the workflow runs; the harness itself is in workflow_harness.py (a
module of its own name, so test modules import it unambiguously: several suites have a
conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from workflow_harness import Twin

from mlops.twin.cloud import LocalCloud


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    with LocalCloud() as cloud:
        yield Twin(cloud, tmp_path_factory.mktemp("standins"))
