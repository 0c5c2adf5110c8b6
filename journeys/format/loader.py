"""Read journey files into models, reporting every problem as `file:line:col: message`.

The YAML is read with positions (`journeys.format.yaml`), pydantic checks the shape and its errors are told in
the words of people who write journeys (`journeys.format.problems`), and then `journeys.format.validation`
checks the rules that need the whole journey.
"""

from __future__ import annotations

from pathlib import Path

from journeys.errors import DefinitionError, Problem
from journeys.format.models import Journey
from journeys.format.problems import sorted_problems, validated
from journeys.format.validation import check
from journeys.format.yaml import MAX_DEFINITION_BYTES, MAX_INT, Positions, load_yaml
from journeys.templates import TemplateFiles

MAX_JOURNEY_STEPS = 1_000


def _load(path: Path, templates: TemplateFiles | None) -> tuple[Journey | None, Positions, list[Problem]]:
    file = str(path)
    try:
        data, positions = load_yaml(path, max_bytes=MAX_DEFINITION_BYTES, max_int=MAX_INT)
    except DefinitionError as exc:
        return None, Positions(), exc.problems
    journey, problems = validated(Journey, data, positions, file)
    if journey is not None and len(journey.steps) > MAX_JOURNEY_STEPS:
        message = f"a journey has at most {MAX_JOURNEY_STEPS:,} steps, this one has {len(journey.steps):,}"
        return None, positions, [Problem(file, *positions.at(("steps",)), message)]
    if journey is not None:
        problems += check(journey, positions, file, templates or TemplateFiles(Path(path).parent / "templates"))
    return journey, positions, sorted_problems(problems, file)


def load_journey(path: Path, templates: TemplateFiles | None = None) -> tuple[Journey | None, list[Problem]]:
    """Load and validate one journey file: the journey (None when its shape is wrong) and every problem."""
    journey, _, problems = _load(path, templates)
    return journey, problems


def load_or_raise(path: Path, templates: TemplateFiles | None = None) -> Journey:
    """The journey, or `DefinitionError` carrying every problem when there is any error (warnings pass)."""
    journey, problems = load_journey(path, templates)
    if journey is None or any(p.severity == "error" for p in problems):
        raise DefinitionError(problems)
    return journey


def load_directory(folder: Path) -> dict[str, Journey]:
    """Every `*.yaml` journey directly in `folder`, by id; `DefinitionError` on any error or a reused id."""
    templates = TemplateFiles(Path(folder) / "templates")
    journeys: dict[str, Journey] = {}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    for path in sorted(Path(folder).glob("*.yaml")):
        if not path.is_file():
            continue
        journey, positions, found = _load(path, templates)
        problems += found
        if journey is None:
            continue
        if journey.id in journeys:
            where = positions.at(("id",))
            problems.append(
                Problem(str(path), *where, f"journey id {journey.id!r} is already used by {files[journey.id]}")
            )
            continue
        journeys[journey.id] = journey
        files[journey.id] = str(path)
    problems = list(dict.fromkeys(problems))
    if any(p.severity == "error" for p in problems):
        raise DefinitionError(problems)
    return journeys
