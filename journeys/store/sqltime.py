"""Time arithmetic in SQL that SQLite and PostgreSQL both run: they write it differently, so each dialect
gets its own spelling of the same expression (compiled by SQLAlchemy for the store's database)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class plus_seconds(FunctionElement[Any]):  # noqa: N801 (an SQL function, named like one)
    """`plus_seconds(at, n)`: the timestamp `n` seconds after the timestamp column `at`."""

    type = DateTime(timezone=True)
    inherit_cache = True
    name = "plus_seconds"


class utc_day(FunctionElement[Any]):  # noqa: N801
    """`utc_day(at)`: the UTC calendar day of a timestamp column, as text `YYYY-MM-DD`."""

    type = String()
    inherit_cache = True
    name = "utc_day"


@compiles(plus_seconds, "sqlite")
def _plus_seconds_sqlite(element: plus_seconds, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC wall time as text `YYYY-MM-DD HH:MM:SS.ffffff`: the same form, to milliseconds
    at, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"strftime('%Y-%m-%d %H:%M:%f', {at}, '+' || ({seconds}) || ' seconds')"


@compiles(plus_seconds, "postgresql")
def _plus_seconds_postgresql(element: plus_seconds, compiler: Any, **kw: Any) -> str:
    at, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"({at} + make_interval(secs => {seconds}))"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
