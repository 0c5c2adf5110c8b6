"""Run the benchmarks: `python -m bench [--quick] [--json] [--suite NAME ...] [--waiting N]`."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

from rich.console import Console
from rich.table import Table

from bench import api, console_pages, events, importing, runtime, simulate
from bench.console import stdout_to_stderr
from journeys.runtime.collector import relax_collector

# In this order: after the runtime suite (a worker, its sandboxes, thousands of runs' worth of objects) this
# process imports customers about 30% slower, which is the process's doing, not the importer's.
SUITES = {
    "simulate": simulate,
    "import": importing,
    "runtime": runtime,
    "events": events,
    "api": api,
    "console": console_pages,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a run of a few minutes")
    parser.add_argument("--json", action="store_true", help="print a JSON list of figures")
    parser.add_argument(
        "--suite", action="append", choices=list(SUITES), help="run only this suite (repeatable; default: all)"
    )
    parser.add_argument(
        "--waiting", type=int, metavar="N", help="runs held waiting for the memory and status figures (default: plan)"
    )
    args = parser.parse_args()
    relax_collector()  # as every `journeys` command sets it: the suites run the product in this process
    chosen = [SUITES[name] for name in args.suite or SUITES]
    with stdout_to_stderr():  # servers' banners and the SDK's log go to stdout: keep it for the figures
        figures = [
            figure
            for suite in chosen
            for figure in (runtime.run(args.quick, args.waiting) if suite is runtime else suite.run(args.quick))
        ]
    if args.json:
        print(json.dumps([f.model_dump() for f in figures], indent=2))
        return
    table = Table(
        title=f"journeys benchmarks ({'quick' if args.quick else 'full'}) on {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    table.add_column("name", no_wrap=True)
    for column in ("value", "unit", "baseline", "ratio", "target", "met"):
        table.add_column(column)
    for f in figures:
        table.add_row(f.name, str(f.value), f.unit, str(f.baseline), str(f.ratio), f.target, "✓" if f.met else "✗")
    Console(width=None if sys.stdout.isatty() else 200).print(table)


if __name__ == "__main__":
    main()
