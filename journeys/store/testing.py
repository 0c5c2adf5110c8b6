"""A throwaway PostgreSQL server for tests, handing out empty databases (like `temporalio.testing`).

`PostgresServer.start()` uses the server at `JOURNEYS_TEST_DATABASE_URL` when that is set (it needs the right
to create databases), else starts a private cluster with the local PostgreSQL binaries in a temporary
directory, on a free port, tuned for speed (no fsync), and removes it on `stop()`. `initdb` refuses to run
as root, so as root the cluster is made and run by the `postgres` user.

`PostgresServer.start_private()` always starts a private cluster, for tests that take the database away:
`halt()` stops the server (`immediate`: every backend killed at once, no checkpoint, crash recovery on the
next start, as after a crash; `fast`: a clean shutdown) and `resume()` starts it again on the same port and
data directory, with everything committed before the halt still there. That cluster commits synchronously:
with `synchronous_commit=off` (the speed setting of the others) a crash loses the last few hundred
milliseconds of commits, as PostgreSQL documents, and a test would see data vanish that the store had been
told was saved. (`fsync=off` stays: it only matters when the operating system itself goes down.)
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Literal

from sqlalchemy import NullPool, create_engine, make_url, text

URL_VARIABLE = "JOURNEYS_TEST_DATABASE_URL"
SEARCH = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin")


class PostgresUnavailable(RuntimeError):
    """Neither a server URL nor binaries to start one: tests needing PostgreSQL should be skipped."""


class PostgresServer:
    def __init__(self, admin_url: str, cluster: _Cluster | None = None) -> None:
        self.admin_url = admin_url
        self._cluster = cluster
        self._engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    @classmethod
    def start(cls) -> PostgresServer:
        """An existing server (`JOURNEYS_TEST_DATABASE_URL`) or a new private cluster."""
        url = os.environ.get(URL_VARIABLE)
        if url:
            return cls(url)
        cluster = _Cluster.create(durable=False)
        return cls(f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/postgres", cluster)

    @classmethod
    def start_private(cls) -> PostgresServer:
        """A new private cluster, whatever `JOURNEYS_TEST_DATABASE_URL` says: one a test may halt and resume."""
        cluster = _Cluster.create(durable=True)
        return cls(f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/postgres", cluster)

    @staticmethod
    def unavailable_reason(private: bool = False) -> str | None:
        """Why `start()` (with `private`: `start_private()`) cannot work here, or None when it can."""
        if os.environ.get(URL_VARIABLE) and not private:
            return None
        variable = "" if private else f" and {URL_VARIABLE} is not set"
        if _bindir() is None:
            return f"no PostgreSQL binaries (initdb, pg_ctl) found{variable}"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return f"running as root without a `postgres` user to run initdb{variable}"
        return None

    @property
    def port(self) -> int:
        return int(make_url(self.admin_url).port or 5432)

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

    def halt(self, mode: Literal["immediate", "fast"] = "immediate") -> None:
        """Take the server down (a private cluster only); it refuses connections until `resume()`."""
        self._private().halt(mode)

    def resume(self) -> None:
        """Start a halted private cluster again, on the same port and data directory; returns once it accepts."""
        self._private().resume()

    def running(self) -> bool:
        """Whether the server accepts connections (a private cluster: whether its postmaster is up)."""
        if self._cluster is not None:
            return self._cluster.running()
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def stop(self) -> None:
        """Done with the server: a private cluster is shut down and its directory removed."""
        self._engine.dispose()
        if self._cluster is not None:
            self._cluster.destroy()
            self._cluster = None

    def _private(self) -> _Cluster:
        if self._cluster is None:
            raise PostgresUnavailable("only a private cluster (PostgresServer.start_private()) can be halted")
        return self._cluster


def _bindir() -> Path | None:
    for pattern in SEARCH:
        for candidate in sorted(Path("/").glob(pattern.lstrip("/")), reverse=True):
            if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
                return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class _Cluster:
    """A cluster in a temporary directory, run with `pg_ctl` (as `postgres` when we are root)."""

    def __init__(self, bindir: Path, base: Path, user: str | None, port: int, durable: bool) -> None:
        self.bindir, self.base, self.user, self.port = bindir, base, user, port
        self.data, self.log = base / "data", base / "server.log"
        self.options = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
            f"-c synchronous_commit={'on' if durable else 'off'} -c max_connections=200"
        )

    @classmethod
    def create(cls, durable: bool) -> _Cluster:
        """`durable`: commits survive the server being killed (synchronous commit); else faster, and they may not."""
        bindir = _bindir()
        if bindir is None:
            raise PostgresUnavailable(PostgresServer.unavailable_reason(private=True) or "no PostgreSQL binaries")
        base = Path(tempfile.mkdtemp(prefix="journeys-pg-"))
        user: str | None = None
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to `postgres`
            account = pwd.getpwnam("postgres")
            os.chown(base, account.pw_uid, account.pw_gid)
            user = "postgres"
        cluster = cls(bindir, base, user, _free_port(), durable)
        try:
            cluster._run("initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
            cluster.resume()
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        return cluster

    def _run(self, program: str, *args: str) -> None:
        command = (str(self.bindir / program), *args)
        result = subprocess.run(command, user=self.user, cwd=self.base, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            if self.log.exists():
                detail += "\n" + self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{program} failed: {detail}")

    def resume(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self.options, "-w", "-t", "60", "start")

    def halt(self, mode: str) -> None:
        # -w: returns once the postmaster and every backend are gone (so `resume` finds the port and memory free)
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        command = (str(self.bindir / "pg_ctl"), "-D", str(self.data), "status")
        result = subprocess.run(command, user=self.user, cwd=self.base, capture_output=True, check=False)
        return result.returncode == 0

    def destroy(self) -> None:
        try:
            if self.running():
                self.halt("fast")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
