"""What the store refuses; messages name ids, never a customer's email or phone.

JourneysError                 (journeys.errors)
└── StoreError                the store refused an operation
    ├── UnknownCustomer       no customer with that id
    ├── UnknownRun            no run with that workflow id
    ├── UnknownMessage        no message with that idempotency key
    └── VersionConflict       a journey version was saved before with a different definition
"""

from __future__ import annotations

from journeys.errors import JourneysError


class StoreError(JourneysError):
    """The store refused an operation."""


class UnknownCustomer(StoreError, LookupError):
    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        super().__init__(f"no customer {customer_id!r} in the store")


class UnknownRun(StoreError, LookupError):
    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"no run {workflow_id!r} in the store")


class UnknownMessage(StoreError, LookupError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no message with key {key!r} in the store")


class VersionConflict(StoreError):
    def __init__(self, journey_id: str, version: int) -> None:
        self.journey_id = journey_id
        self.version = version
        super().__init__(
            f"journey {journey_id!r} version {version} was already used with a different definition: "
            "bump `version` in the file"
        )
