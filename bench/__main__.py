"""Run the benchmarks: `python -m bench [--quick] [--json]`."""

from __future__ import annotations

import argparse
import json
import os
import platform

from rich.console import Console
from rich.table import Table

from bench import simulate

SUITES = [simulate]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a run of a few minutes")
    parser.add_argument("--json", action="store_true", help="print a JSON list of figures")
    args = parser.parse_args()
    figures = [figure for suite in SUITES for figure in suite.run(args.quick)]
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
    Console().print(table)


if __name__ == "__main__":
    main()
