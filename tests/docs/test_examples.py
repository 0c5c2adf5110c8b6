"""The examples of README.md and docs/ run as written.

- Every fenced ```sh block of README.md and docs/*.md is a case; its lines that start with `journeys `
  are run in order with the installed command, from the repository root, with JOURNEYS_DATA_DIR in a
  temporary folder (so nothing is written into the repository). Each must exit 0, or with the status a
  trailing `# exit N` comment gives. A line ending in `\\` goes on on the next line. A block preceded by
  the comment `<!-- not run -->` is skipped: use it for commands that need a running server
  (`journeys dev`, `enroll`, `signal`, `status`, ...) or that write files.
- Every fenced ```yaml block of docs/format.md whose leading comment lines name a file, as
  `# journey: NAME.yaml`, `# warned: NAME.yaml` or `# refused: NAME.yaml`, is written to a temporary folder
  beside a copy of definitions/templates/ and checked with `journeys validate`: a `journey` must be valid and
  without warnings, a `warned` one valid with at least one warning, a `refused` one must be refused (names are
  unique within the page).

Cases are named by file and block number (the n-th ```sh or ```yaml block of that file, from 1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.markdown import DOCUMENTS, Block, blocks, commands

pytestmark = pytest.mark.unit

FORMAT = ROOT / "docs" / "format.md"
NAMED = re.compile(r"^#\s*(journey|warned|refused):\s*(\S+\.ya?ml)\s*$")
TIMEOUT = 300


def journeys_command() -> list[str]:
    """The installed `journeys` command of this interpreter's environment, else `python -m journeys`."""
    script = Path(sys.executable).parent / "journeys"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "journeys"]


def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYS_")}
    env["JOURNEYS_DATA_DIR"] = str(tmp_path / "data")
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "120"
    return env


def run(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, env=environment(tmp_path), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


SHELL_BLOCKS = [b for path in DOCUMENTS for b in blocks(path, "sh") if not b.not_run and commands(b)]


def named(block: Block) -> tuple[str, str] | None:
    """(`journey`, `warned` or `refused`, file name) from a yaml block's leading comment lines."""
    for line in block.lines:
        if not line.startswith("#"):
            return None
        match = NAMED.match(line.strip())
        if match:
            return match.group(1), match.group(2)
    return None


YAML_BLOCKS = [b for b in blocks(FORMAT, "yaml") if named(b)]


def test_the_documents_have_examples() -> None:
    """A change to the markers or the parser that finds nothing would make every case pass."""
    assert len(SHELL_BLOCKS) >= 5
    assert len(YAML_BLOCKS) >= 5
    assert any(named(b) == ("journey", "modem_swap.yaml") for b in YAML_BLOCKS)


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=lambda b: f"{b.path.relative_to(ROOT)}-sh{b.number}")
def test_shell_example_runs(block: Block, tmp_path: Path) -> None:
    for command in commands(block):
        done = run([*journeys_command(), *command.argv[1:]], tmp_path)
        assert done.returncode == command.expected, (
            f"{block.name}: `{command.text}` exited {done.returncode}, expected {command.expected}\n"
            f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
        )


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every named journey of docs/format.md, written beside a copy of the shipped templates and validated by
    one `journeys validate --json` (one process instead of one per block): file name → its result."""
    tmp_path = tmp_path_factory.mktemp("format")
    folder = tmp_path / "definitions"
    shutil.copytree(ROOT / "definitions" / "templates", folder / "templates")
    files = []
    for block in YAML_BLOCKS:
        _, name = named(block) or ("", "")
        assert not (folder / name).exists(), f"{block.name}: a second example named {name}"
        (folder / name).write_text("\n".join(block.lines) + "\n", encoding="utf-8")
        files.append(str(folder / name))
    done = run([*journeys_command(), "validate", "--json", *files], tmp_path)
    assert done.returncode in (0, 1), done.stderr
    return {Path(result["file"]).name: result for result in json.loads(done.stdout)}


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=lambda b: f"{b.path.relative_to(ROOT)}-yaml{b.number}")
def test_format_example_validates(block: Block, validated: dict[str, dict]) -> None:
    kind, name = named(block) or ("", "")
    result = validated[name]
    problems = "\n".join(f"{name}:{p['line']}:{p['col']}: {p['severity']}: {p['message']}" for p in result["problems"])
    if kind in ("journey", "warned"):
        assert result["valid"], f"{block.name}: `journeys validate {name}` refused it:\n{problems}"
        warned = [p for p in result["problems"] if p["severity"] == "warning"]
        if kind == "journey":
            assert not result["problems"], f"{block.name}: the example should be clean, without warnings:\n{problems}"
        else:
            assert warned, f"{block.name}: the example is shown with a warning that `journeys validate` does not give"
    else:
        assert not result["valid"], f"{block.name}: `journeys validate {name}` accepted a journey shown as refused"
