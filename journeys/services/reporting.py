"""`journeys report`: what the journey's definition says a report should count (its goals and their window,
its split cohorts, the events its voice questions answer with), then the counts from the store."""

from __future__ import annotations

from ruamel.yaml import YAML

from journeys.engine.runs import bundle_templates
from journeys.errors import JourneysError
from journeys.format.models import Journey, Message, SendStep, SplitStep
from journeys.services.catalogue import Published, find_journey, publish
from journeys.settings import Settings
from journeys.store import JourneyReport, ReportSpec, Store
from journeys.templates import TemplateFiles

# exit events that end a run but are no goal: a customer who opts out has not converted
NOT_CONVERSIONS = frozenset({"opted_out", "unsubscribed"})


def report_spec(published: Published, *, by_day: bool = False) -> ReportSpec:
    journey = published.journey
    messages: list[Message] = [s.message for s in journey.steps if isinstance(s, SendStep) and s.message]
    messages += [m for m in published.templates.values() if isinstance(m, Message)]
    cohorts = {name for s in journey.steps if isinstance(s, SplitStep) for name in s.split}
    return ReportSpec(
        version=journey.version,
        window=journey.conversion_window,
        goals=[name for name in journey.exit_on if name not in NOT_CONVERSIONS],
        cohorts=sorted(cohorts),
        questions=sorted({m.gather.event for m in messages if m.gather is not None}),
        by_day=by_day,
    )


def journey_report(settings: Settings, store: Store, journey: str, *, by_day: bool = False) -> JourneyReport:
    """The report of the journey named by its id (or its YAML file), as its definition today asks."""
    published = published_journey(settings, store, journey)
    return store.journey_report(published.journey.id, report_spec(published, by_day=by_day))


def published_journey(settings: Settings, store: Store, journey: str) -> Published:
    """The journey as its file in the definitions folder says; when that file is gone, as the newest version
    that enrolled anyone (the store keeps its text), so a finished campaign can still be reported on."""
    try:
        return publish(find_journey(settings, journey))
    except JourneysError:
        text = store.newest_version_text(journey)
        if text is None:
            raise
    saved = Journey.model_validate(YAML(typ="safe", pure=True).load(text))
    return Published(journey=saved, templates=bundle_templates(saved, TemplateFiles(settings.templates)), source=text)
