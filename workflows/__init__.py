"""Temporal workflow code: thin deterministic drivers of `journeys.interpreter` (one workflow class per file)."""
