"""The package as a user installs it: the wheel holds `journeys` alone (the adapters under its namespace, no
benchmarks, nothing at the top of site-packages to collide with), and works from outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = sorted(
    "journeys/" + str(p.parent.relative_to(ROOT / "journeys"))
    for p in (ROOT / "journeys").rglob("__init__.py")
    if p.parent != ROOT / "journeys"
) + ["journeys/activities", "journeys/channels", "journeys/workflows"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("journeys-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with the wheel installed; the dependencies come from this environment's
    site-packages, added as a plain path (so its editable finder for the checkout is not)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(
        subprocess.run(
            [venv / "bin/python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    with zipfile.ZipFile(wheel) as archive:  # what pip does for a pure wheel, without pip in the venv
        archive.extractall(site)
    entry = venv / "bin/journeys"
    entry.write_text(f"#!{venv}/bin/python\nimport sys\nfrom journeys.cli import main\nsys.exit(main())\n")
    entry.chmod(0o755)
    for binary in ("temporal", "temporal-test-server"):  # shipped beside the interpreter by their packages
        found = shutil.which(binary, path=str(Path(sys.executable).parent))
        if found:
            (venv / "bin" / binary).symlink_to(found)
    yield venv


def test_the_wheel_holds_the_journeys_namespace_alone(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert sorted({n.split("/")[0] for n in names}) == ["journeys", wheel.name.split("-")[0] + "-0.1.0.dist-info"]
    folders = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    assert sorted(folders - {"journeys"}) == sorted(set(PACKAGES))
    assert not [n for n in names if n.startswith(("bench", "tests", "worker"))]
    assert "journeys/store/migrations/script.py.mako" in names


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "PYTHON"))}
    return subprocess.run(
        [str(venv / "bin/journeys"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_installed_command_validates_simulates_and_imports_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    shutil.copytree(ROOT / "definitions", tmp_path / "definitions")
    where = subprocess.run(
        [installed / "bin/python", "-c", "import journeys, journeys.channels; print(journeys.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(installed) in where and str(ROOT) not in where
    collides = subprocess.run([installed / "bin/python", "-c", "import channels"], cwd=tmp_path, capture_output=True)
    assert collides.returncode != 0  # nothing of ours at the top of site-packages

    assert _run(installed, tmp_path, "validate", "definitions/modem_swap.yaml").returncode == 0
    simulated = _run(
        installed,
        tmp_path,
        "simulate",
        "definitions/modem_swap.yaml",
        "--customers",
        "definitions/scenarios/modem_swap/customers.yaml",
        "--events",
        "definitions/scenarios/modem_swap/events.yaml",
        "--start",
        "2026-11-23T08:00:00+03:30",
        "--json",
    )
    assert simulated.returncode == 0, simulated.stderr
    assert json.loads(simulated.stdout)["journey"] == "modem-swap"
    (tmp_path / "people.csv").write_text("id,name,email\nc1,Sara,sara@example.com\nc2,Omid,omid@example.com\n")
    imported = _run(installed, tmp_path, "customers", "import", "people.csv")
    assert imported.returncode == 0, imported.stderr
    with sqlite3.connect(tmp_path / ".journeys" / "journeys.db") as db:  # the migrations shipped in the wheel ran
        assert db.execute("select id from customer order by id").fetchall() == [("c1",), ("c2",)]
