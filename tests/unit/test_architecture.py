"""The layout is the architecture: which package may import which, no import cycles, a pure engine.

Dependencies point one way: the base modules, then templates, format, engine, store, services; the adapters
(runtime, http, simulate, and the workflows, activities and channels) stand on all of those; the CLI on
everything. Workflow code may import only the pure packages, which the sandbox passes through.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from journeys.runtime.temporal import PURE
from tests.support import ROOT

BASE = ("journeys.errors", "journeys.secrets", "journeys.settings")
TIERS: list[tuple[str, ...]] = [
    ("journeys.errors",),
    ("journeys.secrets",),
    ("journeys.settings",),
    ("journeys.templates",),
    ("journeys.format",),
    ("journeys.engine",),
    ("journeys.store",),
    ("journeys.services",),
    (
        "journeys.runtime",
        "journeys.http",
        "journeys.simulate",
        "journeys.workflows",
        "journeys.activities",
        "journeys.channels",
    ),
    ("journeys.cli", "journeys.__main__"),
]
# Folders of the repository and the package each installs as.
FOLDERS = {"journeys": "journeys", "workflows": "journeys.workflows", "activities": "journeys.activities"}
FOLDERS["channels"] = "journeys.channels"


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = [FOLDERS[relative.parts[0]], *relative.parts[1:]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package(module: str) -> str:
    """The tier entry that `module` belongs to."""
    for tier in TIERS:
        for name in tier:
            if module == name or module.startswith(name + "."):
                return name
    return module


def _tier(module: str) -> int:
    package = _package(module)
    return next((n for n, tier in enumerate(TIERS) if package in tier), len(TIERS))


def _ours(module: str) -> bool:
    return module == "journeys" or module.startswith("journeys.")


def _imports(path: Path, module: str, top_level_only: bool = False) -> set[str]:
    """The modules of ours that `path` imports (anywhere in it, or at its top level only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:  # `if TYPE_CHECKING:` imports never run
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.rsplit(".", node.level - (1 if path.name == "__init__.py" else 0))[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {name for name in found if _ours(name)}


def _sources() -> dict[str, Path]:
    files = [p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]
    return {_module_name(p): p for p in files}


SOURCES = _sources()


def _known(name: str) -> str | None:
    """`name` if it is one of our modules, else its parent (a name imported from a module), else None."""
    while name and name not in SOURCES:
        name = name.rpartition(".")[0]
    return name if name and name != "journeys" else None  # `from journeys import x`: x is what counts


def test_the_walk_finds_every_folder_of_ours() -> None:
    """What the tests below look at: were it empty, they would pass on nothing."""
    assert {_package(module) for module in SOURCES} >= {name for tier in TIERS for name in tier}


def test_every_package_says_what_it_holds_and_may_import() -> None:
    packages = {m: p for m, p in SOURCES.items() if p.name == "__init__.py" and m.count(".") == 1}
    assert {"journeys.engine", "journeys.workflows", "journeys.channels"} <= set(packages)
    undocumented = [m for m, p in packages.items() if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))]
    assert undocumented == []


def test_dependencies_point_one_way() -> None:
    wrong = []
    for module, path in SOURCES.items():
        for imported in _imports(path, module):
            target = _known(imported)
            if target is None or _package(target) == _package(module):
                continue
            if _tier(target) > _tier(module):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_workflow_code_imports_only_the_pure_packages() -> None:
    pure = tuple(name for name in PURE if _ours(name))
    imports = [
        (module, target)
        for module, path in SOURCES.items()
        if module.startswith("journeys.workflows")
        for target in map(_known, _imports(path, module))
        if target is not None and not target.startswith("journeys.workflows")
    ]
    assert any(target.startswith("journeys.engine") for _, target in imports)  # the workflow runs the engine
    reloaded = [f"{module} imports {target}" for module, target in imports if not target.startswith(pure)]
    assert reloaded == [], "the sandbox must reload these"


def test_there_are_no_import_cycles() -> None:
    graph = {
        module: {t for t in map(_known, _imports(path, module, top_level_only=True)) if t and t != module}
        for module, path in SOURCES.items()
    }
    # a package's __init__ importing its own modules is how packages work, not a cycle
    for module in graph:
        graph[module] = {t for t in graph[module] if not module.startswith(t + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


PURITY_PROBE = textwrap.dedent(
    """
    import datetime, sys, time
    from pathlib import Path

    CLOCKS = {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"}
    reads = []

    def watch(frame, event, arg):
        if event != "c_call":
            return
        name = getattr(arg, "__name__", "")
        owner = getattr(arg, "__self__", None)
        if (getattr(arg, "__module__", None) == "time" and name in CLOCKS) or (
            (owner is datetime.datetime or owner is datetime.date) and name in {"now", "utcnow", "today"}
        ):
            reads.append(f"{name}() from {frame.f_code.co_filename}:{frame.f_lineno}")

    root = Path(sys.argv[1])
    sys.setprofile(watch)
    from journeys.engine.messages import MessageSource
    from journeys.format.inputs import read_customers, read_events
    from journeys.format.loader import load_or_raise
    from journeys.simulate.inprocess import simulate
    from journeys.templates import TemplateFiles
    sys.setprofile(None)
    imported = [r for r in reads if "/journeys/" in r]

    templates = TemplateFiles(root / "definitions/templates")
    journey = load_or_raise(root / "definitions/modem_swap.yaml", templates)
    customers = read_customers(root / "definitions/scenarios/modem_swap/customers.yaml")
    start = datetime.datetime(2026, 11, 23, 8, tzinfo=datetime.timezone.utc)
    events = read_events(root / "definitions/scenarios/modem_swap/events.yaml", start, {c.id for c in customers})
    reads.clear()
    sys.setprofile(watch)
    result = simulate(journey, customers, events, start, 30, MessageSource(templates))
    sys.setprofile(None)
    assert result.totals.messages > 0, "the simulation sent nothing: the probe would prove nothing"
    print("\\n".join(imported + reads))
    """
)


def test_the_engine_reads_no_clock_importing_or_running_a_whole_journey() -> None:
    """The interpreter, the templates and the format decide on the time they are given, never on a clock:
    a 30-day simulation of the modem swap (sends, waits, quiet hours, templates rendered) reads none."""
    probe = subprocess.run(
        [sys.executable, "-c", PURITY_PROBE, str(ROOT)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout.strip() == ""


@pytest.mark.parametrize("clock", ["time.monotonic", "datetime.datetime.now"])
def test_the_probe_sees_a_clock_read_when_there_is_one(clock: str) -> None:
    """The purity probe above is not blind: a clock read in the engine's path is reported."""
    probe = PURITY_PROBE.replace("\nresult = simulate(", f"\n{clock}()\nresult = simulate(", 1)
    assert probe != PURITY_PROBE
    result = subprocess.run([sys.executable, "-c", probe, str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert clock.rsplit(".", 1)[1] + "()" in result.stdout
