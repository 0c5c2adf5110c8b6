"""`make demo`: the modem-swap story end to end on the embedded default, as a new user would type it.

Starts `journeys dev` (Temporal dev server, SQLite store, worker, outbox) on free ports with its data in
`.journeys-demo/`, runs the support and marketing commands against it, prints each command and what it
answered, then stops the server with Ctrl-C (SIGINT) as a person would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: journeys/cli/demo.py
SCENARIO = ROOT / "definitions" / "scenarios" / "modem_swap"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _journeys() -> list[str]:
    return [sys.executable, "-m", "journeys"]


def _say(text: str) -> None:
    print(f"\n\033[1m{text}\033[0m", flush=True)


def _run(args: list[str], env: dict[str, str]) -> None:
    _say("$ journeys " + " ".join(args))
    subprocess.run(_journeys() + args, env=env, cwd=ROOT, check=False)


def main() -> None:
    data = ROOT / ".journeys-demo"
    shutil.rmtree(data, ignore_errors=True)
    port, ui_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "JOURNEYS_DATA_DIR": str(data),
        "JOURNEYS_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "JOURNEYS_DEFINITIONS": str(ROOT / "definitions"),
        "JOURNEYS_LOG_FORMAT": os.environ.get("JOURNEYS_LOG_FORMAT", "console"),  # its output is read by a person
    }
    env.pop("JOURNEYS_DATABASE_URL", None)
    _run(["validate", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "definitions").glob("*.yaml"))], env)
    _say(f"$ journeys dev --ui-port {ui_port}   (in the background)")
    dev = subprocess.Popen(
        _journeys() + ["dev", "--ui-port", str(ui_port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        assert dev.stdout is not None
        for line in dev.stdout:
            print("  " + line.rstrip(), flush=True)
            if "ready" in line:
                break
            if time.monotonic() > deadline:
                raise SystemExit("journeys dev did not start within 2 minutes")
        if dev.poll() is not None:
            raise SystemExit("journeys dev stopped; see its output above")
        _run(["customers", "import", str(SCENARIO.relative_to(ROOT) / "customers.yaml")], env)
        _run(["signal", "c4", "swapped", "--id", "c4-swapped-in-shop"], env)  # c4 swapped last month
        _run(["enroll", "modem-swap", "--all"], env)
        _run(["signal", "c1", "registered"], env)
        _run(["signal", "c1", "document_uploaded", "--data", "kind=national_id", "--data", "ref=courier-7731"], env)
        _run(["signal", "c3", "swapped"], env)  # the sale ends c3's outreach at once
        _run(["status", "c3"], env)
        _run(["status", "c1"], env)
        _run(["report", "modem-swap", "--by", "day"], env)
    finally:
        _say("Ctrl-C (stopping journeys dev)")
        dev.send_signal(signal.SIGINT)
        try:
            output, _ = dev.communicate(timeout=60)
            print("  " + output.strip().replace("\n", "\n  "), flush=True)
        except subprocess.TimeoutExpired:
            dev.kill()
    kept = data.relative_to(ROOT)
    _say(
        f"Done. The state is kept in {kept}/ — `JOURNEYS_DATA_DIR={kept} journeys dev` picks it up again and serves "
        f"the web console at /console/ (user admin, the password it prints, kept in {kept}/console-password)"
    )


if __name__ == "__main__":
    main()
