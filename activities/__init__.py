"""Temporal activities, grouped by the system they talk to (store, channels)."""
