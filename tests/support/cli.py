"""The `journeys` command as the tests run it: in this process, or as the installed script in a process of its own."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from journeys.cli import main
from tests.support import ROOT

SCRIPT = Path(sys.executable).parent / "journeys"


def run(*args: str) -> tuple[int, str, str]:
    """`journeys ARGS` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exited:
        main(list(args))
    code = exited.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), out.getvalue(), err.getvalue()


def run_script(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed `journeys ARGS` in `cwd`, without colours or debugging, with `env` added to ours and `stdin`
    as its standard input (None: ours)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "JOURNEYS_DEBUG")}
    environment |= {"NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def data_in(folder: Path) -> dict[str, str]:
    """The environment that keeps `journeys`' data dir and store in `folder`."""
    return {"JOURNEYS_DATA_DIR": str(folder / "data"), "JOURNEYS_DATABASE_URL": f"sqlite:///{folder}/s.db"}
