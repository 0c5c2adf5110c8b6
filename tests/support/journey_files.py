"""Journey files as the loader and validation tests write them, and the problems they read back."""

from __future__ import annotations

import textwrap
from pathlib import Path

from journeys.format.loader import load_journey
from tests.support import ROOT
from tests.support.markdown import blocks

HEADER = "id: j\nname: J\nsteps:\n"
"""A journey's first lines: the tests append its steps."""

(_EXAMPLE,) = [b for b in blocks(ROOT / "docs" / "format.md", "yaml") if "# journey: modem_swap.yaml" in b.lines[:3]]
SPEC_EXAMPLE = "".join(f"{line}\n" for line in _EXAMPLE.lines if not line.startswith("# journey:"))
"""The complete example of docs/format.md as the page shows it (modem-swap), read from the page itself."""

FOLLOWUP = """
id: followup
name: Complaint follow-up
entry: {trigger: complaint_filed}
re_entry: always
steps:
  - {id: acknowledge, send: sms, message: {text: "We have your complaint {{ event.data.ref }}"}}
  - {id: await_resolution, wait_for: complaint_resolved, timeout: 2d}
"""
"""A journey entered by its event (`entry.trigger`), which acknowledges the complaint by SMS and waits."""


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
