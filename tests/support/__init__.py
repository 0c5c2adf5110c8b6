"""What the test lanes share: the dev-server harness, the Twilio fake, the fault kit, pollers and fixtures' helpers."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root."""
