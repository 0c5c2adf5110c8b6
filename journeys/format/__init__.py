"""The journey definition format: models, YAML loading with positions, validation, the schema, the map, and
the customers and events files that feed journeys.

May import: `journeys.errors`, `journeys.templates`. Nothing here knows Temporal, the store or the clock.
"""
