"""The JSON Schema of the journey format, generated from the models so editors and the loader never disagree.

Editors (for example VS Code with the YAML extension, via `# yaml-language-server: $schema=...`) use it for
completion and hover help; `journeys schema` prints it.
"""

from __future__ import annotations

from typing import Any

from journeys.format.models import STEP_KINDS, Journey

SCHEMA_ID = "urn:journeys:journey-format:1"

# Hover help for each step kind; the models describe the fields, this says what a step of that kind does.
_KIND_HELP: dict[str, str] = {
    "send": "Render a message for this customer and hand it to the channel (email, sms, voice or webhook).",
    "wait": "Pause the run for a duration (3d), until a clock time ({until: '09:00'}) or a timestamp expression.",
    "wait_for": "Pause until one of the events has been received, or the timeout passes.",
    "branch": "Go to the first case whose `when` is true, else to `else` (default: the following step).",
    "split": "Random split, stable per customer: cohort name to {percent, goto}; percents sum to 100.",
    "update": "Change the customer's profile: set attributes, add or remove tags.",
    "goto": "Jump to another step.",
    "end": "Complete the run with outcome completed and an optional label.",
}


def journey_schema() -> dict[str, Any]:
    """The schema of one journey file (draft 2020-12), with each step kind a `oneOf` member keyed by its kind."""
    schema = Journey.model_json_schema()
    defs = schema["$defs"]
    for kind, cls in STEP_KINDS.items():
        step = defs[cls.__name__]
        # A kind key may hold null (`end:` with no label), but it must be present: that is what picks the kind.
        if kind not in step["required"]:
            step["required"].append(kind)
        step.setdefault("description", _KIND_HELP[kind])
        step["properties"][kind].setdefault("description", _KIND_HELP[kind])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Journey definition",
        "description": "One marketing journey (a YAML file under definitions/), format version 1.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }
