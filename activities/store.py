"""Activities that talk to the store: customer snapshots, profile updates, run progress."""

from __future__ import annotations

from datetime import datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from journeys.engine.runs import ProfileUpdate, Progress, Snapshot
from journeys.store import Store


class StoreActivities:
    """Bound to one `Store`; sync methods, run in the worker's thread pool."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="load_customer")
    def load_customer(self, customer_id: str, journey_id: str, now: datetime) -> Snapshot:
        snapshot = self.store.snapshot(customer_id, journey_id, now)
        if snapshot is None:
            raise ApplicationError(f"customer {customer_id!r} is not in the store", non_retryable=True)
        return snapshot

    @activity.defn(name="apply_profile_update")
    def apply_profile_update(self, update: ProfileUpdate) -> None:
        self.store.apply_update(update.customer_id, update.set, update.add_tags, update.remove_tags)

    @activity.defn(name="record_progress")
    def record_progress(self, progress: Progress) -> None:
        self.store.record_progress(progress)
