"""Encryption is not silently off: a worker or server against a Temporal server elsewhere needs a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from journeys.runtime.codec import EncryptionError, generate_key_entry, required_keys
from journeys.settings import Settings

ELSEWHERE = "temporal.invalid:7233"  # never reached: the check comes before any connection


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_worker_and_server_refuse_a_remote_temporal_without_a_key_in_one_line(command: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYS_")}
    env |= {"JOURNEYS_TEMPORAL_ADDRESS": ELSEWHERE, "JOURNEYS_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "journeys", command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "JOURNEYS_ENCRYPTION_KEY is not set" in done.stderr and "JOURNEYS_ENCRYPTION=off" in done.stderr


@pytest.mark.parametrize(
    ("address", "encryption", "key", "needs"),
    [
        (ELSEWHERE, "on", None, "refused"),
        (ELSEWHERE, "off", None, "clear"),
        (ELSEWHERE, "on", "given", "encrypted"),
        ("10.0.0.7:7233", "on", None, "refused"),
        ("localhost:7233", "on", None, "clear"),
        ("127.0.0.1:7233", "on", None, "clear"),
        ("[::1]:7233", "on", None, "clear"),
    ],
)
def test_payloads_go_in_clear_only_locally_or_when_said(
    address: str, encryption: str, key: str | None, needs: str, tmp_path: Path
) -> None:
    entry = generate_key_entry() if key else None
    settings = Settings(data_dir=tmp_path, temporal_address=address, encryption=encryption, encryption_key=entry)
    if needs == "refused":
        with pytest.raises(EncryptionError, match="is not on this machine"):
            required_keys(settings)
    else:
        assert required_keys(settings) == entry
