"""Importing customer profiles into the store (`journeys customers import F.csv`).

Every row is validated; a bad row is reported as `file:line: field: message` and skipped, good rows are
kept. The first row of an id wins and later rows with that id are rejected; two customers sharing an email
or a phone are both kept and reported as conflicts. Good rows are upserted a chunk at a time, so importing
the same file again changes nothing. Problems name fields and ids, never an email address or phone number.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT
from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select

from journeys.errors import InputError
from journeys.format.customers import PROFILE_KEYS, Profile, ProfileValues
from journeys.format.inputs import _scalar
from journeys.services.import_file import (
    BAD_TEXT,
    CONTROL,
    Bad,
    Columns,
    Row,
    as_text,
    id_of,
    identifier,
    kind,
    plain_mapping,
    printable,
    progress,
    read_records,
)
from journeys.services.phone_numbers import plain_e164
from journeys.store import CustomerRow
from journeys.store.base import one_of

if TYPE_CHECKING:
    from rich.console import Console

    from journeys.store import Store

CHUNK = 1_000  # rows per upsert transaction
COLUMNS = Columns(known=frozenset((*PROFILE_KEYS, "country")), required=("id",), hint="id, name, email, phone, ...")
_LIST_SPLIT = re.compile(r"[;|,]")
_PARSE_CODE = re.compile(r"^\(\d+\) ")  # phonenumbers' "(1) The string supplied ..."
_NOT_ZONES = frozenset({"localtime", "posixrules"})
_PROFILE_KEYS = frozenset(PROFILE_KEYS)


class ImportReport(BaseModel):
    """What an import did: counts, rejected rows (`problems`) and kept rows that share contacts (`conflicts`)."""

    file: str
    rows: int = 0
    imported: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[str] = Field(default_factory=list)
    conflicts: list[str] = Field(default_factory=list)


def import_customers(
    path: Path,
    store: Store,
    console: Console | None = None,
    *,
    default_region: str | None = None,
    chunk_size: int = CHUNK,
) -> ImportReport:
    """Validate every row of a CSV/YAML/JSON customers file and upsert the good ones into `store`.

    Args:
        path: the customers file; its suffix picks the format (`.csv`, `.json`, `.jsonl`, else YAML).
        store: where the profiles go.
        console: when given, a transient progress bar is shown on it.
        default_region: ISO country code for phone numbers written without `+` in rows without `country`.
        chunk_size: rows per upsert transaction.

    Raises:
        InputError: the file cannot be read as a whole (not UTF-8, broken CSV quoting, no `id` column, ...);
            nothing is written then.
    """
    if default_region is not None and default_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise InputError(f"default region {default_region!r}: expected a two-letter country code such as IR")
    total, rows = read_records(path, COLUMNS)
    importer = _Importer(str(path), store, default_region and default_region.upper())
    with progress(console, total, "importing customers") as advance:
        for row in rows:
            importer.add(row)
            if len(importer.chunk) >= chunk_size:
                advance(importer.flush())
        advance(importer.flush())
    return importer.report()


class _Importer:
    def __init__(self, file: str, store: Store, region: str | None) -> None:
        self.file = file
        self.store = store
        self.region = region
        self.counts = ImportReport(file=file)
        self.chunk: list[tuple[int, ProfileValues]] = []
        self.rows = 0
        self.pending = 0  # rows read since the last flush, for the progress bar
        self.first_line: dict[str, int] = {}  # id → line of its first row, good or bad
        self.accepted: set[str] = set()
        self.owners: dict[str, dict[str, tuple[str, int]]] = {"email": {}, "phone": {}}
        self.conflicts: list[tuple[int, str]] = []

    def add(self, row: Row) -> None:
        self.rows += 1
        self.pending += 1
        problems = list(row.problems)
        # a record that could not be read at all (a JSON line that does not parse, not a mapping) has only that to say
        record = _record(row.data, self.region, problems, coerce=row.from_csv) if row.data or not problems else None
        customer_id = id_of(row.data)
        if customer_id is not None:
            first = self.first_line.setdefault(customer_id, row.line)
            if first != row.line:
                problems = [f"id: duplicate of line {first}"]
        if problems or record is None:
            self.counts.rejected += 1
            self.counts.problems.extend(printable(f"{self.file}:{row.line}: {p}") for p in problems)
            return
        self.accepted.add(record.id)
        for name in ("email", "phone"):
            key = _contact_key(name, getattr(record, name))
            if key is None:
                continue
            owner = self.owners[name].setdefault(key, (record.id, row.line))
            if owner[0] != record.id:
                message = f"{self.file}:{row.line}: {name}: same as customer {owner[0]} at line {owner[1]}"
                self.conflicts.append((row.line, message))
        self.chunk.append((row.line, record))

    def flush(self) -> int:
        """Report contacts owned by other customers in the store, upsert the chunk; rows read since last time."""
        if self.chunk:
            self._store_conflicts()
            counts = self.store.upsert_customers([record for _, record in self.chunk])
            self.counts.created += counts.created
            self.counts.updated += counts.updated
            self.counts.unchanged += counts.unchanged
            self.counts.imported += len(self.chunk)
            self.chunk = []
        done, self.pending = self.pending, 0
        return done

    def _store_conflicts(self) -> None:
        wanted = {
            name: {k for _, r in self.chunk if (k := _contact_key(name, getattr(r, name))) is not None}
            for name in ("email", "phone")
        }
        found = contact_owners(self.store, wanted["email"], wanted["phone"])
        for line, record in self.chunk:
            for name in ("email", "phone"):
                key = _contact_key(name, getattr(record, name))
                # owners imported from this file were compared above, against what the file says
                others = sorted(o for o in found[name].get(key, ()) if o != record.id and o not in self.accepted)
                if key is not None and others:
                    message = f"{self.file}:{line}: {name}: already belongs to customer {others[0]} in the store"
                    self.conflicts.append((line, message))

    def report(self) -> ImportReport:
        self.counts.rows = self.rows
        self.conflicts.sort(key=lambda c: c[0])
        self.counts.conflicts = [message for _, message in self.conflicts]
        return self.counts


def contact_owners(store: Store, emails: set[str], phones: set[str]) -> dict[str, dict[str, set[str]]]:
    """Ids of stored customers by lower-cased email and by phone, for the given ones: one query, by the indexes on
    lower(email) and phone."""
    table = CustomerRow.__table__  # type: ignore[attr-defined]
    found: dict[str, dict[str, set[str]]] = {"email": {}, "phone": {}}
    conditions = []
    dialect = store.engine.dialect.name
    if emails:
        conditions.append(one_of(func.lower(table.c.email), sorted(emails), dialect))
    if phones:
        conditions.append(one_of(table.c.phone, sorted(phones), dialect))
    if not conditions:
        return found
    with store.engine.begin() as connection:
        if dialect == "postgresql":
            # The planner prices lower() at nothing, so it reads the whole table for a thousand emails rather than
            # probe the index a thousand times: 55 ms instead of 6 ms a chunk at 100,000 customers, and growing.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for customer_id, email, phone in connection.execute(
            select(table.c.id, table.c.email, table.c.phone).where(or_(*conditions))
        ):
            for name, value in (("email", email), ("phone", phone)):
                key = _contact_key(name, value)
                if key is not None and key in (emails if name == "email" else phones):
                    found[name].setdefault(key, set()).add(customer_id)
    return found


def _contact_key(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    return value.lower() if name == "email" else value


# --- validating ---------------------------------------------------------------------------------


def check_profile(data: dict[str, Any], region: str | None = None) -> tuple[Profile | None, list[str]]:
    """One profile checked as `customers import` checks a row of a JSON file (the HTTP API's door): the
    profile, or None and a `field: message` for each bad field."""
    problems: list[str] = []
    values = _record(data, region, problems, coerce=False)
    return (values.profile() if values is not None else None), problems


def _record(data: dict[str, Any], region: str | None, problems: list[str], *, coerce: bool) -> ProfileValues | None:
    """The row's profile, or None with a `field: message` in `problems` for each bad field, in the order of the
    fields."""
    values: dict[str, Any] = dict.fromkeys(PROFILE_KEYS)  # every field given: no default made per row
    values["tags"] = []
    try:
        values["id"] = identifier("id", data.get("id"))
    except Bad as exc:
        problems.append(str(exc))
    for name, validate in _PROFILE_CHECKS:
        raw = data.get(name)
        if raw is None:
            continue
        try:
            text = as_text(name, raw)
            value = _phone(text, data.get("country"), region) if validate is None else validate(text)
        except Bad as exc:
            problems.append(str(exc))
            continue
        values[name] = value
    try:
        if data.get("tags") is not None:
            values["tags"] = _tags(data["tags"])
    except Bad as exc:
        problems.append(str(exc))
    try:
        values["attributes"] = _attributes(data, coerce)
    except Bad as exc:
        problems.append(str(exc))
    if problems:
        return None
    return ProfileValues(*values.values())  # in PROFILE_KEYS' order, as `values` was made


def _name(text: str) -> str | None:
    if CONTROL.search(text) or BAD_TEXT.search(text):
        raise Bad("name", "contains a control character or line break")
    return text or None


def _email(text: str) -> str | None:
    if not text:
        return None
    # the common case, cheaply: a plain ASCII local part (which validation keeps as it is) and a known domain
    local, at, domain = text.rpartition("@")
    if at and len(text) <= 254 and domain.isascii() and DOT_ATOM_TEXT.match(local):
        normalised = _email_domain(domain)
        if normalised is not None:
            return f"{local}@{normalised}"
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise Bad("email", f"not a valid address: {exc}") from None


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str | None:
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def _phone(text: str, country: Any, default_region: str | None) -> str | None:
    if not text:
        return None
    shortcut = plain_e164(text)  # `+` and digits, valid: what the library would say, sooner
    if shortcut is not None:
        return shortcut
    region = default_region
    if not text.startswith("+"):
        if isinstance(country, str) and country.strip():
            region = country.strip().upper()
            if region not in phonenumbers.SUPPORTED_REGIONS:
                raise Bad("country", "unknown country: expected a two-letter code such as IR or GB")
        if region is None:
            raise Bad(
                "phone",
                "no country code: write it as +<country code><number>, add a country column, or give a default region",
            )
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise Bad("phone", f"not a phone number ({_PARSE_CODE.sub('', str(exc))})") from None
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or region
        raise Bad("phone", "not a valid phone number" + (f" in {where}" if where and where != "ZZ" else ""))
    if number.extension:
        raise Bad("phone", "has an extension, which a phone number for messages cannot keep")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@cache
def _zones() -> dict[str, str]:
    return {zone.lower(): zone for zone in zoneinfo.available_timezones() if zone not in _NOT_ZONES}


def _timezone(text: str) -> str | None:
    if not text:
        return None
    zone = _zones().get(text.lower())
    if zone is None:
        raise Bad("timezone", "unknown time zone: expected an IANA name such as Asia/Tehran or Europe/London")
    return zone


@cache
def _locale_or_error(text: str) -> tuple[str | None, str | None]:
    try:
        locale = Locale.parse(text.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None, "unknown locale: expected a language tag such as fa, fa-IR or en-GB"
    return str(locale).replace("_", "-"), None


def _locale(text: str) -> str | None:
    if not text:
        return None
    locale, error = _locale_or_error(text)
    if error is not None:
        raise Bad("locale", error)
    return locale


_PROFILE_CHECKS: tuple[tuple[str, Callable[[str], str | None] | None], ...] = (
    ("name", _name),
    ("email", _email),
    ("phone", None),  # it needs the row's country too
    ("locale", _locale),
    ("timezone", _timezone),
)


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        items: list[Any] = _LIST_SPLIT.split(value)
    elif isinstance(value, list):
        items = value
    else:
        raise Bad("tags", f"expected a list or text separated by ; | or , (got {kind(value)})")
    tags: list[str] = []
    for item in items:
        tag = as_text("tags", item)
        if CONTROL.search(tag) or BAD_TEXT.search(tag):
            raise Bad("tags", "contains a control character or line break")
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _attributes(data: dict[str, Any], coerce: bool) -> dict[str, Any]:
    """Every column that is no profile field; CSV text becomes a number or boolean where it clearly is one."""
    nested = data.get("attributes")
    if nested is not None and not isinstance(nested, dict):
        raise Bad("attributes", "expected a mapping (in a CSV file, give each attribute its own column)")
    merged = dict(nested or {})
    for key, value in data.items():
        if key not in _PROFILE_KEYS:
            merged[key] = value
    if coerce:
        merged = {key: _scalar(value) for key, value in merged.items()}
    return plain_mapping(merged, "attributes")
