"""What can go wrong, for people: problems found in files, and errors the CLI prints in one line.

JourneysError                 a user's mistake or an unavailable service: one line, no traceback
├── DefinitionError           a journey (or its templates) is invalid; carries the `Problem`s
├── InputError                a customers/events file or a command-line value is bad
└── TemplateError             (journeys.templates) a template failed to render for one customer
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, order=True)
class Problem:
    """One finding in a file, printed as `file:line:col: message` (warnings say so)."""

    file: str
    line: int
    col: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        tag = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {tag}{self.message}"


class JourneysError(Exception):
    """Base of every error the CLI reports as one line."""


class DefinitionError(JourneysError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(str(errors[0]) if errors else "invalid definition")


class InputError(JourneysError):
    """A bad input file or value; the message names the file, line and field."""


class TemporalUnavailable(JourneysError):
    """Nothing answers at the configured Temporal address."""
