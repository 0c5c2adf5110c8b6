"""Personal data encrypted before it reaches Temporal: an AES-256-GCM payload codec, its keys, a codec server.

Every payload (workflow inputs and results, activity arguments, update and query values) and, with the
failure converter's encoded attributes, every error message and stack trace is encrypted by the client or
worker before it leaves the process, so the Temporal server and its database hold ciphertext only. Each
encrypted payload names its key in its metadata (`encryption-key-id`), so keys rotate: put the new key
first in `JOURNEYS_ENCRYPTION_KEY` and keep the old ones after it until no history needs them.

    JOURNEYS_ENCRYPTION_KEY=k2:<base64 of 32 bytes>,k1:<base64 of 32 bytes>   # k2 encrypts, both decrypt

`journeys dev` generates a key into the data dir. The codec server (`codec_app`) lets the Temporal web UI
show decrypted payloads to whoever runs it on their own machine: it decrypts for anyone who can reach it,
so it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from journeys.errors import JourneysError
from journeys.runtime.converter import PayloadConverter
from journeys.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_SIZE = 12
KEY_SIZE = 32  # AES-256
KEY_FILE = "encryption.key"  # in the data dir, for `journeys dev`
UI_ORIGIN = "http://localhost:8233"  # the Temporal dev server's web UI
_KEY_ID_CHARS = re.compile(r"[A-Za-z0-9_.-]+")


class EncryptionError(JourneysError):
    """A bad key setting, or a payload that cannot be decrypted (unknown key, or tampered with)."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole serialised payloads; encrypts with the active key, decrypts with any it holds."""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        super().__init__()
        if active not in keys:
            raise EncryptionError(f"the active encryption key {active!r} is not among the keys")
        self.active = active
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @classmethod
    def from_text(cls, text: str) -> EncryptionCodec:
        active, keys = parse_keys(text)
        return cls(keys, active)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._ciphers[self.active].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: self.active.encode()}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        """The original payload; one this codec did not encrypt (no `binary/encrypted` encoding) as it is."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(sorted(self._ciphers))
            raise EncryptionError(
                f"payload encrypted with unknown key {key_id!r} (known: {known}): "
                "add that key after the active one in JOURNEYS_ENCRYPTION_KEY"
            )
        try:
            clear = cipher.decrypt(payload.data[:NONCE_SIZE], payload.data[NONCE_SIZE:], None)
        except InvalidTag:
            raise EncryptionError(f"payload encrypted with key {key_id!r} fails authentication (tampered?)") from None
        return Payload.FromString(clear)


# --- keys as text -----------------------------------------------------------------------------------------


def parse_keys(text: str) -> tuple[str, dict[str, bytes]]:
    """`id:base64key[,id:base64key...]` as (active id, {id: key}); the first entry is the active key.

    Errors are one line and never repeat key material."""
    entries = [entry.strip() for entry in text.split(",")]
    if not any(entries):
        raise EncryptionError("JOURNEYS_ENCRYPTION_KEY is empty: expected id:base64key[,id:base64key...]")
    keys: dict[str, bytes] = {}
    for number, entry in enumerate(entries, start=1):
        key_id, colon, encoded = entry.partition(":")
        key_id = key_id.strip()
        where = f"JOURNEYS_ENCRYPTION_KEY entry {number}"
        if not colon:
            raise EncryptionError(f"{where}: expected id:base64key (no ':' found)")
        if not _KEY_ID_CHARS.fullmatch(key_id):
            raise EncryptionError(f"{where}: the key id must be letters, digits, '_', '.' or '-'")
        if key_id in keys:
            raise EncryptionError(f"{where}: key id {key_id!r} appears twice")
        keys[key_id] = _decode_key(encoded.strip(), f"{where} ({key_id!r})")
    return next(iter(keys)), keys


def _decode_key(encoded: str, where: str) -> bytes:
    try:
        key = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise EncryptionError(f"{where}: the key is not valid base64") from None
    if len(key) != KEY_SIZE:
        raise EncryptionError(f"{where}: the key must be {KEY_SIZE} bytes (AES-256), not {len(key)}")
    return key


def generate_key_entry() -> str:
    """A new random key as `id:base64key`, ready for JOURNEYS_ENCRYPTION_KEY."""
    return f"k{secrets.token_hex(4)}:{base64.b64encode(secrets.token_bytes(KEY_SIZE)).decode()}"


def load_or_create_key(path: Path) -> str:
    """The key setting kept in a file (the embedded default's, in the data dir), created 0600 on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text(encoding="utf-8").strip()
        try:
            parse_keys(text)
        except EncryptionError as exc:
            raise EncryptionError(f"{path}: {exc}") from None
        return text
    text = generate_key_entry()
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    return text


def configured_keys(settings: Settings, create: bool = False) -> str | None:
    """The configured keys, else the data dir's key file (made when `create`); None: payloads in clear."""
    if settings.encryption_key:
        return settings.encryption_key
    path = settings.data_dir / KEY_FILE
    return load_or_create_key(path) if create or path.exists() else None


def required_keys(settings: Settings) -> str | None:
    """The keys a worker or server runs with. Against a Temporal server on another machine, payloads hold
    customers' personal data in someone else's database: no key is an error unless `encryption = off` says
    cleartext is meant (a local dev server keeps the embedded default's key file, if any)."""
    keys = configured_keys(settings)
    host = settings.temporal_address.rpartition(":")[0].strip("[]") or settings.temporal_address
    if keys is None and settings.encryption != "off" and not _local(host):
        raise EncryptionError(
            f"Temporal at {settings.temporal_address} is not on this machine and JOURNEYS_ENCRYPTION_KEY is not "
            "set: set it (the same on every worker, server and client), or JOURNEYS_ENCRYPTION=off to send "
            "payloads in clear"
        )
    return keys


def _local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def data_converter(keys_text: str | None) -> DataConverter:
    """The pydantic data converter, encrypting payloads and failures when keys are given (as is without)."""
    if keys_text is None:
        return DataConverter(payload_converter_class=PayloadConverter)
    return DataConverter(
        payload_converter_class=PayloadConverter,
        payload_codec=EncryptionCodec.from_text(keys_text),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


# --- the codec server for the Temporal web UI -------------------------------------------------------------


def codec_app(codec: PayloadCodec, origins: Iterable[str] = (UI_ORIGIN,)) -> Starlette:
    """`POST /encode` and `POST /decode` in the Temporal codec server protocol, with CORS for the UI's origins.

    Bodies are `{"payloads": [{"metadata": {...base64...}, "data": "base64"}]}` both ways."""
    from google.protobuf import json_format
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    def endpoint(
        apply: Callable[[Sequence[Payload]], Awaitable[list[Payload]]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                payloads = json_format.Parse(await request.body(), Payloads()).payloads
            except json_format.ParseError as exc:
                return PlainTextResponse(f"bad payloads: {exc}", status_code=400)
            try:
                done = await apply(payloads)
            except EncryptionError as exc:
                return PlainTextResponse(str(exc), status_code=400)
            return Response(json_format.MessageToJson(Payloads(payloads=done)), media_type="application/json")

        return handle

    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
    )
    return Starlette(
        routes=[
            Route("/encode", endpoint(codec.encode), methods=["POST"]),
            Route("/decode", endpoint(codec.decode), methods=["POST"]),
        ],
        middleware=[cors],
    )


@contextlib.asynccontextmanager
async def codec_server(
    codec: PayloadCodec, port: int = 0, origins: Iterable[str] = (UI_ORIGIN,), host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """Serve `codec_app` while the block runs (on loopback: it decrypts for anyone); yields its URL."""
    from journeys.runtime.serving import serving  # uvicorn: imported only by processes that serve

    async with serving(codec_app(codec, origins), host, port, "codec server", EncryptionError) as bound:
        yield f"http://{host}:{bound}"
