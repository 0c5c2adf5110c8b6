"""Processes to kill and a provider to count with: the Temporal dev server with its database file, `journeys
worker`, the CLI, and a loopback webhook receiver that records every request it is sent.

Every process is started in its own session so it can be SIGKILLed by its own id (and only it); every wait
has a deadline; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from journeys.runtime.embedded import DEV_SERVER_ARGS
from journeys.runtime.temporal import binary
from tests.support.polling import until

JOURNEYS = [sys.executable, "-m", "journeys"]
HOST = "127.0.0.1"
WEBHOOK_SECRET = "faults-webhook-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.3):
            return True
    except OSError:
        return False


def _kill(process: subprocess.Popen[Any] | None) -> None:
    """SIGKILL one process we started (its own session: the whole group it leads), and reap it."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- the Temporal dev server ----------------------------------------------------------------------


class TemporalServer:
    """`temporal server start-dev` with a database file, so its state survives a SIGKILL and a restart."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.database = folder / "temporal.db"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        command = [
            binary("temporal"),
            "server",
            "start-dev",
            "--ip",
            HOST,
            "--port",
            str(self.port),
            "--headless",
            "--db-filename",
            str(self.database),
            "--log-level",
            "error",
            *DEV_SERVER_ARGS,  # as `journeys dev` runs it: its state must survive the SIGKILLs here all the same
        ]
        with open(self.folder / f"temporal-{self.starts}.log", "wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder, start_new_session=True
            )
        until(lambda: accepts(self.port) or self._died(), timeout, f"the dev server to listen on {self.address}")
        self._died(raise_=True)
        # listening is not serving yet: wait until the namespace answers
        describe = [binary("temporal"), "operator", "namespace", "describe", "--address", self.address, "default"]
        until(
            lambda: (
                self._died(raise_=True) or subprocess.run(describe, capture_output=True, timeout=20).returncode == 0
            ),
            timeout,
            "the dev server's default namespace",
            every=0.3,
        )

    def _died(self, raise_: bool = False) -> bool:
        if self.process is not None and self.process.poll() is not None:
            if raise_:
                log = (self.folder / f"temporal-{self.starts}.log").read_text(errors="replace")
                raise AssertionError(f"the dev server exited with {self.process.returncode}:\n{log[-3000:]}")
            return True
        return False

    def kill(self) -> None:
        _kill(self.process)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


# --- the fake provider ----------------------------------------------------------------------------


@dataclass
class Post:
    customer: str
    step: str
    key: str
    at: float
    body: bytes


@dataclass
class Receiver:
    """A loopback webhook receiver: every request recorded (on arrival, before answering 200)."""

    url: str = ""
    posts: list[Post] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, body: bytes, key: str) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        with self.lock:
            self.posts.append(Post(str(data.get("customer")), str(data.get("step")), key, time.monotonic(), body))

    def snapshot(self) -> list[Post]:
        with self.lock:
            return list(self.posts)

    def count(self) -> int:
        with self.lock:
            return len(self.posts)


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if len(body) < length:  # the sender died mid-request: nothing was accepted
            return
        self.receiver.record(body, self.headers.get("Idempotency-Key", ""))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class ReceiverServer:
    def __init__(self) -> None:
        self.receiver = Receiver()
        self.server = ThreadingHTTPServer((HOST, 0), type("Handler", (_Handler,), {"receiver": self.receiver}))
        self.server.daemon_threads = True
        self.receiver.url = f"http://{HOST}:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self.receiver

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the project: CLI and workers -----------------------------------------------------------------


class Journeys:
    """The CLI, `journeys worker` and `journeys serve` processes, all pointed at one server, one store (a SQLite
    file in the folder unless `store_url` says otherwise, e.g. a PostgreSQL database), one task queue."""

    def __init__(self, folder: Path, server: TemporalServer, definitions: Path, store_url: str | None = None) -> None:
        self.folder = folder
        data = folder / "data"
        data.mkdir(exist_ok=True)
        self.store_url = store_url or f"sqlite:///{data / 'journeys.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "TWILIO_"))}
        self.env = {
            **env,
            "JOURNEYS_DATA_DIR": str(data),
            "JOURNEYS_DATABASE_URL": self.store_url,
            "JOURNEYS_TEMPORAL_ADDRESS": server.address,
            "JOURNEYS_TASK_QUEUE": f"faults-{uuid.uuid4().hex[:8]}",
            "JOURNEYS_DEFINITIONS": str(definitions),
            "JOURNEYS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "JOURNEYS_SECRET": "faults-signing-secret",
            "JOURNEYS_SERVE_PORT": str(free_port()),
        }
        self.workers: list[subprocess.Popen[bytes]] = []
        self.servers: list[subprocess.Popen[bytes]] = []

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*JOURNEYS, *args], env=self.env, cwd=self.folder, capture_output=True, text=True, timeout=timeout
        )

    def json(self, *args: str, timeout: float = 60.0) -> Any:
        result = self.run(*args, "--json", timeout=timeout)
        assert result.returncode == 0, f"journeys {' '.join(args)} exited {result.returncode}: {result.stderr}"
        return json.loads(result.stdout)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """A CLI command started in the background (its output piped), e.g. a signal that may be cut short."""
        return subprocess.Popen(
            [*JOURNEYS, *args],
            env=self.env,
            cwd=self.folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def json_many(self, commands: list[list[str]], timeout: float = 90.0) -> list[Any]:
        """Several `--json` commands at once (as several people would type them); each must succeed."""
        processes = [self.spawn(*command, "--json") for command in commands]
        try:
            results = []
            for command, process in zip(commands, processes, strict=True):
                out, err = process.communicate(timeout=timeout)
                assert process.returncode == 0, f"journeys {' '.join(command)} exited {process.returncode}: {err}"
                results.append(json.loads(out))
            return results
        finally:
            for process in processes:
                _kill(process)

    def start_worker(self, timeout: float = 60.0) -> subprocess.Popen[bytes]:
        """`journeys worker`, once it is ready (its output in worker-N.log)."""
        return self._start_ready("worker", ["worker"], self.workers, timeout)

    def start_server(self, port: int, timeout: float = 60.0) -> subprocess.Popen[bytes]:
        """`journeys serve --port PORT`, once it listens (its output in serve-N.log)."""
        return self._start_ready("serve", ["serve", "--port", str(port)], self.servers, timeout)

    def _start_ready(
        self, name: str, args: list[str], started: list[subprocess.Popen[bytes]], timeout: float
    ) -> subprocess.Popen[bytes]:
        """A long-running command in its own session, its output in NAME-N.log, waited for until it says it
        runs ("Ctrl-C stops it", which it says once it listens)."""
        log_path = self.folder / f"{name}-{len(started) + 1}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [*JOURNEYS, *args],
                env=self.env,
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(
                    f"journeys {name} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            return "Ctrl-C stops it" in " ".join(log_path.read_text(errors="replace").split())  # lines wrap at 80

        until(ready, timeout, f"journeys {name} to start", every=0.1)
        return process

    @staticmethod
    def kill(process: subprocess.Popen[Any]) -> None:
        _kill(process)

    def kill_all(self) -> None:
        """Every worker and server started here."""
        for process in [*self.workers, *self.servers]:
            _kill(process)

    def worker_log(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
            for path in sorted(self.folder.glob("worker-*.log"))
        )


def write_customers(path: Path, ids: list[str]) -> Path:
    rows = ["id,name,email"] + [f"{c},Customer {c},{c}@example.com" for c in ids]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
