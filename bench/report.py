"""One benchmark figure, as printed by `python -m bench --json`."""

from __future__ import annotations

from pydantic import BaseModel


class Figure(BaseModel):
    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None  # value / baseline
    target: str
    met: bool
