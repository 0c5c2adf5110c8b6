"""Personal data never reaches Temporal in clear: the codec, its keys, the codec server (raw histories from a
real dev server: tests/e2e/test_codec_dev.py)."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from journeys.format.customers import Profile
from journeys.runtime.codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    EncryptionError,
    codec_app,
    codec_server,
    data_converter,
    generate_key_entry,
    load_or_create_key,
    parse_keys,
)
from tests.support.personal import EMAIL, parisa


def _key(byte: int) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


K1, K2 = f"k1:{_key(1)}", f"k2:{_key(2)}"


def _codec(text: str) -> EncryptionCodec:
    return EncryptionCodec.from_text(text)


# --- the codec ----------------------------------------------------------------------------------------------


async def test_codec_round_trips_pydantic_models() -> None:
    converter = data_converter(K1)
    record = parisa()
    (payload,) = await converter.encode([record])
    assert payload.metadata["encoding"] == ENCODING
    assert payload.metadata[KEY_ID] == b"k1"
    assert EMAIL.encode() not in payload.SerializeToString()
    assert await converter.decode([payload], [Profile]) == [record]


async def test_codec_uses_a_fresh_nonce_per_payload() -> None:
    codec = _codec(K1)
    clear = Payload(metadata={"encoding": b"json/plain"}, data=b'"same"')
    first, second = await codec.encode([clear, clear])
    assert first.data != second.data
    assert await codec.decode([first, second]) == [clear, clear]


async def test_codec_decrypts_payloads_of_an_older_key() -> None:
    (old,) = await data_converter(K1).encode([parisa()])
    rotated = data_converter(f"{K2},{K1}")
    assert await rotated.decode([old], [Profile]) == [parisa()]
    (new,) = await rotated.encode([parisa()])
    assert new.metadata[KEY_ID] == b"k2"


async def test_codec_detects_tampering() -> None:
    codec = _codec(K1)
    (sealed,) = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')])
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    with pytest.raises(EncryptionError, match="fails authentication"):
        await codec.decode([Payload(metadata=sealed.metadata, data=bytes(flipped))])


async def test_codec_refuses_an_unknown_key_id() -> None:
    (sealed,) = await _codec(K1).encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    with pytest.raises(EncryptionError, match="unknown key 'k1' \\(known: k2\\)"):
        await _codec(K2).decode([sealed])


async def test_codec_passes_through_payloads_it_did_not_encrypt() -> None:
    (plain,) = await pydantic_data_converter.encode([parisa()])
    assert await data_converter(K1).decode([plain], [Profile]) == [parisa()]


async def test_failure_converter_encrypts_messages_and_stack_traces() -> None:
    converter = data_converter(K1)
    failure = Failure()
    try:
        raise ApplicationError(f"no reply from {EMAIL}")
    except ApplicationError as exc:
        await converter.encode_failure(exc, failure)
    assert EMAIL.encode() not in failure.SerializeToString()
    assert failure.message == "Encoded failure"
    error = await converter.decode_failure(failure)
    assert str(error) == f"no reply from {EMAIL}"


async def test_data_converter_without_keys_writes_and_reads_what_the_sdks_pydantic_one_does() -> None:
    ours = data_converter(None)
    assert ours.payload_codec is None
    profile = parisa()
    assert await pydantic_data_converter.decode(await ours.encode([profile]), [Profile]) == [profile]
    assert await ours.decode(await pydantic_data_converter.encode([profile]), [Profile]) == [profile]


# --- keys ------------------------------------------------------------------------------------------------------


def test_parse_keys_first_entry_is_active() -> None:
    active, keys = parse_keys(f" {K2} , {K1} ")
    assert active == "k2"
    assert keys == {"k2": bytes([2]) * 32, "k1": bytes([1]) * 32}


def test_parse_keys_accepts_urlsafe_base64() -> None:
    key = bytes([0xFB, 0xFF]) * 16
    assert parse_keys(f"k:{base64.urlsafe_b64encode(key).decode()}") == ("k", {"k": key})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        (" , ", "is empty"),
        (_key(1), "entry 1: expected id:base64key"),
        (f"{K1},{K1}", "entry 2: key id 'k1' appears twice"),
        (f"bad id:{_key(1)}", "entry 1: the key id must be"),
        ("k1:not base64!", "entry 1 \\('k1'\\): the key is not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "must be 32 bytes \\(AES-256\\), not 5"),
        (f"{K1},", "entry 2: expected id:base64key"),
    ],
)
def test_parse_keys_rejects_bad_settings_in_one_line(text: str, message: str) -> None:
    with pytest.raises(EncryptionError, match=message) as caught:
        parse_keys(text)
    assert "\n" not in str(caught.value)
    assert _key(1) not in str(caught.value)


def test_generate_key_entry_makes_distinct_usable_keys() -> None:
    first, second = generate_key_entry(), generate_key_entry()
    assert first != second
    active, keys = parse_keys(first)
    assert len(keys[active]) == 32


def test_load_or_create_key_creates_a_private_file_once(tmp_path: Path) -> None:
    path = tmp_path / "data" / "encryption.key"
    created = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == created
    parse_keys(created)


def test_load_or_create_key_names_the_file_when_it_is_bad(tmp_path: Path) -> None:
    path = tmp_path / "encryption.key"
    path.write_text("nonsense\n")
    with pytest.raises(EncryptionError, match=f"{path}: JOURNEYS_ENCRYPTION_KEY entry 1"):
        load_or_create_key(path)


# --- the codec server ----------------------------------------------------------------------------------------


def _wire(payloads: list[Payload]) -> dict[str, object]:
    """Payloads as the Temporal UI sends them to a codec server."""
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def _unwire(body: dict[str, list[dict[str, object]]]) -> list[Payload]:
    return [
        Payload(
            metadata={k: base64.b64decode(v) for k, v in p.get("metadata", {}).items()},  # type: ignore[union-attr]
            data=base64.b64decode(p.get("data", "")),  # type: ignore[arg-type]
        )
        for p in body["payloads"]
    ]


async def test_codec_app_decode_of_encode_is_identity_over_http() -> None:
    payloads = await pydantic_data_converter.encode([parisa(), "hello", 42])
    app = codec_app(_codec(f"{K2},{K1}"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as http:
        encoded = await http.post("/encode", json=_wire(payloads), headers={"X-Namespace": "default"})
        assert encoded.status_code == 200
        sealed = _unwire(encoded.json())
        assert all(p.metadata["encoding"] == ENCODING for p in sealed)
        assert EMAIL not in encoded.text
        decoded = await http.post("/decode", json=encoded.json(), headers={"X-Namespace": "default"})
        assert decoded.status_code == 200
        assert _unwire(decoded.json()) == payloads


async def test_codec_app_answers_bad_requests_in_one_line() -> None:
    (sealed,) = await _codec(K1).encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    app = codec_app(_codec(K2))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as http:
        unknown = await http.post("/decode", json=_wire([sealed]))
        assert (unknown.status_code, "unknown key 'k1'" in unknown.text) == (400, True)
        garbage = await http.post("/decode", content=b"{not json", headers={"Content-Type": "application/json"})
        assert garbage.status_code == 400


async def test_codec_app_allows_only_the_ui_origin() -> None:
    app = codec_app(_codec(K1), origins=["http://localhost:8233"])
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as http:
        ui = await http.options("/decode", headers={"Origin": "http://localhost:8233", **preflight})
        assert ui.status_code == 200
        assert ui.headers["access-control-allow-origin"] == "http://localhost:8233"
        other = await http.options("/decode", headers={"Origin": "http://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers


async def test_codec_server_serves_the_app_on_loopback() -> None:
    payloads = await pydantic_data_converter.encode([parisa()])
    async with codec_server(_codec(K1)) as url, httpx.AsyncClient(base_url=url) as http:
        assert url.startswith("http://127.0.0.1:")
        encoded = await http.post("/encode", json=_wire(payloads))
        decoded = await http.post("/decode", json=encoded.json())
        assert _unwire(decoded.json()) == payloads
