"""A throwaway PostgreSQL server for tests, handing out empty databases (like `temporalio.testing`).

`PostgresServer.start()` uses the server at `JOURNEYS_TEST_DATABASE_URL` when that is set (it needs the right
to create databases), else starts a private cluster with the local PostgreSQL binaries in a temporary
directory, on a free port, tuned for speed (no fsync), and removes it on `stop()`. `initdb` refuses to run
as root, so as root the cluster is made and run by the `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import NullPool, create_engine, make_url, text

URL_VARIABLE = "JOURNEYS_TEST_DATABASE_URL"
SEARCH = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin")


class PostgresUnavailable(RuntimeError):
    """Neither a server URL nor binaries to start one: tests needing PostgreSQL should be skipped."""


class PostgresServer:
    def __init__(self, admin_url: str, on_stop: Callable[[], None] | None = None) -> None:
        self.admin_url = admin_url
        self._on_stop = on_stop
        self._engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    @classmethod
    def start(cls) -> PostgresServer:
        """An existing server (`JOURNEYS_TEST_DATABASE_URL`) or a new private cluster."""
        url = os.environ.get(URL_VARIABLE)
        if url:
            return cls(url)
        return _start_cluster()

    @staticmethod
    def unavailable_reason() -> str | None:
        """Why `start()` cannot work here, or None when it can."""
        if os.environ.get(URL_VARIABLE):
            return None
        if _bindir() is None:
            return f"no PostgreSQL binaries (initdb, pg_ctl) found and {URL_VARIABLE} is not set"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return f"running as root without a `postgres` user to run initdb, and {URL_VARIABLE} is not set"
        return None

    def create_database(self, prefix: str = "journeys_test") -> str:
        """A new empty database; its SQLAlchemy URL (psycopg 3)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with self._engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def stop(self) -> None:
        self._engine.dispose()
        if self._on_stop is not None:
            self._on_stop()
            self._on_stop = None


def _bindir() -> Path | None:
    for pattern in SEARCH:
        for candidate in sorted(Path("/").glob(pattern.lstrip("/")), reverse=True):
            if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
                return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _start_cluster() -> PostgresServer:
    bindir = _bindir()
    if bindir is None:
        raise PostgresUnavailable(PostgresServer.unavailable_reason() or "no PostgreSQL binaries")
    base = Path(tempfile.mkdtemp(prefix="journeys-pg-"))
    user: str | None = None
    if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to `postgres`
        account = pwd.getpwnam("postgres")
        os.chown(base, account.pw_uid, account.pw_gid)
        user = "postgres"
    data, log = base / "data", base / "server.log"
    port = _free_port()

    def run(*args: str) -> None:
        result = subprocess.run(args, user=user, cwd=base, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            if log.exists():
                detail += "\n" + log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{Path(args[0]).name} failed: {detail}")

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise

    def stop() -> None:
        try:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(base, ignore_errors=True)

    return PostgresServer(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", on_stop=stop)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
