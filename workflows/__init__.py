"""Temporal workflow code: thin deterministic drivers of `journeys.engine.interpreter` (one workflow class per file)."""
