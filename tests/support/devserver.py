"""`journeys dev` as a subprocess, and the CLI pointed at it, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.support import ROOT
from tests.support.fake_twilio import FakeTwilio

JOURNEYS = [sys.executable, "-m", "journeys"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server(handler: object) -> Iterator[int]:
    """An SMTP server on a free loopback port, its mail taken by `handler` (an aiosmtpd handler); the port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


class Dev:
    """`journeys dev` as a subprocess, and the CLI pointed at it."""

    def __init__(self, data: Path) -> None:
        self.port, self.ui_port, self.serve_port = free_port(), free_port(), free_port()
        self.env = {
            **os.environ,
            "JOURNEYS_DATA_DIR": str(data),
            "JOURNEYS_TEMPORAL_ADDRESS": f"127.0.0.1:{self.port}",
            "JOURNEYS_DEFINITIONS": str(ROOT / "definitions"),
            "JOURNEYS_SERVE_PORT": str(self.serve_port),
            "JOURNEYS_PUBLIC_URL": f"http://127.0.0.1:{self.serve_port}",
        }
        self.env.pop("JOURNEYS_DATABASE_URL", None)
        self.cwd = data
        self.process: subprocess.Popen[str] | None = None
        self.said: list[str] = []  # what it printed while starting

    def use_providers(self, smtp_port: int, twilio: FakeTwilio) -> None:
        """Send email through the SMTP server on `smtp_port` (plain) and SMS and calls through the fake Twilio."""
        self.env.update(
            {
                "JOURNEYS_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?starttls=off",
                "JOURNEYS_EMAIL_FROM": "Journeys <journeys@example.com>",
                "TWILIO_ACCOUNT_SID": twilio.account_sid,
                "TWILIO_AUTH_TOKEN": twilio.auth_token,
                "JOURNEYS_TWILIO_FROM": "+15005550006",
                "JOURNEYS_TWILIO_BASE_URL": twilio.base_url,
            }
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*JOURNEYS, "dev", "--ui-port", str(self.ui_port)],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 90
        seen = self.said = []
        for line in self.process.stdout:
            seen.append(line)
            if "ready" in line:
                # keep reading: `dev` logs a line per send and event, and a full pipe would stop it
                threading.Thread(target=self.process.stdout.read, daemon=True).start()
                return
            if time.monotonic() > deadline:
                break
        raise AssertionError("journeys dev did not get ready:\n" + "".join(seen))

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*JOURNEYS, *args], env=self.env, cwd=self.cwd, capture_output=True, text=True)

    def json(self, *args: str) -> object:
        result = self.run(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
