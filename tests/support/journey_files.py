"""Journey files as the loader and validation tests write them, and the problems they read back."""

from __future__ import annotations

import textwrap
from pathlib import Path

from journeys.format.loader import load_journey

HEADER = "id: j\nname: J\nsteps:\n"
"""A journey's first lines: the tests append its steps."""

SPEC_EXAMPLE = (Path(__file__).parent / "spec_example.yaml").read_text(encoding="utf-8")
"""The complete example of docs/format.md, verbatim (modem-swap)."""


def write(folder: Path, text: str, name: str = "j.yaml") -> Path:
    """`text`, dedented, as the file `folder/name`."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(folder: Path, text: str) -> list[str]:
    """Every problem of the journey file `text`, each as `j.yaml:line:col: message` (template files relative too)."""
    _, found = load_journey(write(folder, text))
    return [str(p).removeprefix(f"{folder}/") for p in found]
