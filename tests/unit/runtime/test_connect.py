"""Connecting to Temporal: a port nothing listens on is said at once, in one line; a port that takes
connections but fails the client's first call (a server just started, or busy) is asked again for a while
before the same line."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from journeys.errors import TemporalUnavailable
from journeys.runtime import temporal
from journeys.settings import Settings


@contextmanager
def mute_listener() -> Iterator[tuple[int, list[float]]]:
    """A loopback port that takes connections and closes them at once, as a server not yet serving gRPC may:
    its port, and when each connection came."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    came: list[float] = []
    running = True

    def accept() -> None:
        while running:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            came.append(time.monotonic())
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], came
    finally:
        running = False
        thread.join()
        listener.close()


def settings_for(port: int, tmp_path: Path) -> Settings:
    return Settings(temporal_address=f"127.0.0.1:{port}", data_dir=tmp_path)


async def test_a_port_nothing_listens_on_is_said_at_once(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        began = time.monotonic()
        with pytest.raises(TemporalUnavailable, match=f"no Temporal server answers at 127.0.0.1:{port}"):
            await temporal.connect(settings_for(port, tmp_path))
    assert time.monotonic() - began < temporal.CONNECT_PATIENCE_S / 2


async def test_a_server_that_takes_connections_but_fails_the_call_is_asked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(temporal, "CONNECT_PATIENCE_S", 1.5)
    with mute_listener() as (port, came):
        began = time.monotonic()
        with pytest.raises(TemporalUnavailable, match="no Temporal server answers"):
            await temporal.connect(settings_for(port, tmp_path))
        gave_up = time.monotonic()
    assert gave_up - began >= 1.5
    assert came[-1] - came[0] >= 1.0  # it kept asking, not only at the start
