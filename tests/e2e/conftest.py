"""What the end-to-end tests share: `journeys dev` running for the test, in a data dir of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.devserver import Dev


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Dev]:
    server = Dev(tmp_path)
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.stop()
