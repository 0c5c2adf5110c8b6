"""Fenced blocks of the README and docs/, and the `journeys` commands in them (tests/docs, tests/e2e run them)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.support import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = "<!-- not run -->"  # before a block whose commands need a running server
FENCE = re.compile(r"^```(\w*)\s*$")
EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    number: int  # the n-th block of this language in the file, from 1
    line: int  # where its fence opens
    lines: tuple[str, ...]
    not_run: bool

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path, language: str) -> list[Block]:
    """The fenced blocks of one language in a Markdown file."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    previous = ""  # the last non-blank line before the current one, outside blocks
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        if fence.group(1) == language:
            found.append(Block(path, len(found) + 1, start + 1, tuple(body), previous == NOT_RUN))
        previous = ""
    return found


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    expected: int
    text: str


def commands(block: Block) -> list[Command]:
    """The `journeys ...` lines of a shell block, continuation lines joined."""
    joined: list[str] = []
    pending = ""
    for raw in block.lines:
        line = pending + raw.strip() if pending else raw.rstrip()
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        pending = ""
        joined.append(line)
    found: list[Command] = []
    for line in joined:
        if not line.startswith("journeys "):
            continue
        status = EXIT.search(line)
        argv = [expanded for word in shlex.split(line, comments=True) for expanded in expand(word)]
        found.append(Command(tuple(argv), int(status.group(1)) if status else 0, line))
    return found


def expand(word: str) -> list[str]:
    """A word with `*`, `?` or `[` is a pattern, expanded from the repository root as a shell would."""
    if not any(ch in word for ch in "*?["):
        return [word]
    matches = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(word))
    return matches or [word]
