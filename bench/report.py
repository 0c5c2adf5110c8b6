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


def against(name: str, value: float, baseline: float, unit: str, target: str = "report", met: bool = True) -> Figure:
    """A figure measured against its baseline, both rounded to a tenth, with their ratio."""
    return Figure(
        name=name,
        value=round(value, 1),
        unit=unit,
        baseline=round(baseline, 1),
        ratio=round(value / baseline, 2),
        target=target,
        met=met,
    )


def reported(name: str, value: float, unit: str, target: str = "report") -> Figure:
    """A figure with no target to meet: said for what it is."""
    return Figure(name=name, value=value, unit=unit, target=target, met=True)
