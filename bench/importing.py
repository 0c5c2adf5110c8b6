"""`journeys customers import`: generated CSV rows into a fresh SQLite store and a fresh PostgreSQL one.

Baselines: the least any importer must do with the same file, into a table of the same shape (a second
store made by the same migrations): read the CSV and `sqlite3.executemany` the rows, or PostgreSQL
`COPY` them through psycopg. The ratio (import rows/s over baseline rows/s) is what validation (email,
phone to E.164, zone, locale), conflict reports and the upsert cost on top.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from bench.console import say
from bench.report import Figure
from journeys.services.importing import import_customers
from journeys.store import Store
from journeys.store.testing import PostgresServer

TARGET = 0.5
HEADER = ["id", "name", "email", "phone", "locale", "timezone", "tags", "plan", "wimax_id", "age"]
LOCALES = ["en", "fa-IR", "de", "ar"]
ZONES = ["Asia/Tehran", "Europe/London", "America/New_York", ""]
COLUMNS = ("id", "name", "email", "phone", "locale", "timezone", "attributes", "tags", "consent", "created_at")


def write_csv(path: Path, rows: int) -> None:
    """`rows` valid, distinct customers (import reports no problem and no conflict for any of them)."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow(
                [
                    f"c{n}",
                    f"Customer {n}",
                    f"customer{n}@example.com",
                    f"+98912{n:07d}",
                    LOCALES[n % len(LOCALES)],
                    ZONES[n % len(ZONES)],
                    "vip;beta" if n % 3 == 0 else "",
                    "wimax" if n % 10 else "fiber",
                    f"W-{n}",
                    20 + n % 60,
                ]
            )


def run(quick: bool) -> list[Figure]:
    rows = 20_000 if quick else 100_000
    with tempfile.TemporaryDirectory(prefix="journeys-bench-import-") as folder:
        source = Path(folder) / "customers.csv"
        write_csv(source, rows)
        say(f"importing {rows:,} rows into SQLite")
        figures = [_figure("sqlite", rows, *_sqlite(Path(folder), source))]
        reason = PostgresServer.unavailable_reason()
        if reason is not None:
            say(f"no PostgreSQL import figure: {reason}")
            return figures
        say(f"importing {rows:,} rows into PostgreSQL")
        figures.append(_figure("postgresql", rows, *_postgresql(source)))
    return figures


def _figure(backend: str, rows: int, imported_s: float, baseline_s: float) -> Figure:
    value, baseline = rows / imported_s, rows / baseline_s
    kind = "sqlite3.executemany" if backend == "sqlite" else "COPY"
    return Figure(
        name=f"import_{backend}_{rows}_rows_per_s",
        value=round(value),
        unit="rows/s",
        baseline=round(baseline),
        ratio=round(value / baseline, 3),
        target=f"≥ {TARGET}× reading the CSV and {kind} into a same-shaped table",
        met=value / baseline >= TARGET,
    )


def _timed_import(url: str, source: Path) -> float:
    store = Store.open(url)
    try:
        began = time.perf_counter()
        report = import_customers(source, store)
        elapsed = time.perf_counter() - began
    finally:
        store.close()
    if report.rejected or report.conflicts:
        raise RuntimeError(f"import rejected {report.rejected} rows: {report.problems[:3]} {report.conflicts[:3]}")
    return elapsed


def _sqlite(folder: Path, source: Path) -> tuple[float, float]:
    imported = _timed_import(f"sqlite:///{folder / 'imported.db'}", source)
    target = folder / "baseline.db"
    Store.open(f"sqlite:///{target}").close()  # the same table, made by the same migrations
    return imported, _timed(lambda: _executemany(target, source))


def _executemany(database: Path, source: Path) -> None:
    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
        placeholders = ", ".join("?" for _ in (*COLUMNS, "updated_at"))
        with connection:
            connection.executemany(
                f"INSERT INTO customer ({', '.join(COLUMNS)}, updated_at) VALUES ({placeholders})",
                (row + (now,) for row in _rows(source, now)),
            )
    finally:
        connection.close()


def _postgresql(source: Path) -> tuple[float, float]:
    server = PostgresServer.start()
    try:
        imported = _timed_import(server.create_database("bench_import"), source)
        url = server.create_database("bench_copy")
        Store.open(url).close()
        return imported, _timed(lambda: _copy(url, source))
    finally:
        server.stop()


def _copy(url: str, source: Path) -> None:
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    now = datetime.now(timezone.utc)
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        with cursor.copy(f"COPY customer ({', '.join(COLUMNS)}, updated_at) FROM STDIN") as copy:
            for row in _rows(source, now):
                copy.write_row(row + (now,))


def _rows(source: Path, now: Any) -> Iterator[tuple[Any, ...]]:
    """The file's rows as table rows: profile columns, the other columns as JSON attributes, tags as JSON."""
    with source.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        extra = [i for i, name in enumerate(header) if name not in COLUMNS]
        tags = header.index("tags")
        for cells in reader:
            attributes = json.dumps({header[i]: cells[i] for i in extra if i != tags})
            listed = json.dumps([t for t in cells[tags].split(";") if t])
            yield (*(cell or None for cell in cells[:6]), attributes, listed, "{}", now)


def _timed(action: Callable[[], None]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began
