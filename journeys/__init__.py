"""journeys: marketing-automation journeys written in YAML, run as durable Temporal workflows."""

__version__ = "0.1.0"
