"""The definitions catalogue: a journey published for enrolment (definition and templates bundled by value),
and the journeys in the definitions folder, found by id and loaded once until their file changes."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from journeys.engine.listening import Listens, listens
from journeys.engine.runs import bundle_templates, definition_digest
from journeys.errors import JourneysError
from journeys.format.models import Journey
from journeys.settings import Settings
from journeys.templates import TemplateFiles


class Published(BaseModel):
    """A journey as enrolment uses it: the definition and its templates, bundled by value."""

    journey: Journey
    templates: dict[str, Any]
    source: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    @functools.cached_property
    def digest(self) -> str:
        """What runs enrolled from this carry as `RunInput.definition`, to share one copy in a worker."""
        return definition_digest(self.journey, self.templates)

    @functools.cached_property
    def listens(self) -> Listens:
        """The events its runs act on (see `journeys.engine.listening`), kept with each run it enrols."""
        return listens(self.journey, self.templates)


def publish(path: Path) -> Published:
    from journeys.format.loader import load_or_raise

    journey = load_or_raise(path, TemplateFiles(path.parent / "templates"))
    return Published(
        journey=journey,
        templates=bundle_templates(journey, TemplateFiles(path.parent / "templates")),
        source=path.read_text(encoding="utf-8"),
    )


def find_journey(settings: Settings, journey_id: str) -> Path:
    """The definition file of a journey id (or a path given directly)."""
    direct = Path(journey_id)
    if direct.suffix in (".yaml", ".yml") and direct.is_file():
        return direct
    catalogue = definitions(settings)
    for path, journey in catalogue.items():
        if journey.id == journey_id or path.stem == journey_id:
            return path
    known = ", ".join(sorted(j.id for j in catalogue.values())) or "none"
    raise JourneysError(f"no journey {journey_id!r} in {settings.definitions} (known: {known})")


def definitions(settings: Settings) -> dict[Path, Journey]:
    """The valid journeys in the definitions folder (each file loaded once until it changes on disk)."""
    found: dict[Path, Journey] = {}
    for path in sorted(settings.definitions.glob("*.yaml")):
        stat = path.stat()
        journey = _valid_journey(path, settings.templates, stat.st_mtime_ns, stat.st_size)
        if journey is not None:
            found[path] = journey
    return found


@functools.lru_cache(maxsize=256)
def _valid_journey(path: Path, templates: Path, mtime_ns: int, size: int) -> Journey | None:
    """Loading and validating a definition costs tens of ms: `signal` must not pay it on every call."""
    from journeys.format.loader import load_journey

    journey, problems = load_journey(path, TemplateFiles(templates))
    return None if any(p.severity == "error" for p in problems) else journey
