"""Journey maps of the shipped definitions, with made-up run counts, for the map's unit and browser tests."""

from __future__ import annotations

from pathlib import Path

from journeys.format.journey_map import JourneyMap, journey_map
from journeys.format.loader import load_or_raise
from journeys.templates.files import TemplateFiles
from tests.support import ROOT

DEFINITIONS = sorted((ROOT / "definitions").glob("*.yaml"))
"""The journeys shipped in definitions/."""

Counts = tuple[dict[str, int], dict[str, int], dict[tuple[str, str], int]]


def shipped_map(path: Path) -> JourneyMap:
    """The map of a journey file, loaded as `journeys render` loads it (templates beside it)."""
    return journey_map(load_or_raise(path, TemplateFiles(path.parent / "templates")))


def sample_counts(graph: JourneyMap) -> Counts:
    """Runs now, arrived and paths taken, a distinct number for each node and edge, so a misplaced one shows."""
    now = {node.key: 100 + i for i, node in enumerate(graph.nodes)}
    arrived = {node.key: 500 + i for i, node in enumerate(graph.nodes)}
    took = {(edge.source, edge.target): 900 + i for i, edge in enumerate(graph.edges)}
    return now, arrived, took
