"""The journey definition format: models, YAML read with positions (`yaml`), shape errors in people's words
(`problems`), messages and template files (`messages`), validation, the loaders, the schema, the map, and the
customers and events files that feed journeys.

May import: `journeys.errors`, `journeys.templates`. Nothing here knows Temporal, the store or the clock.
"""
