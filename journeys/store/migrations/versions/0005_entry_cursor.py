"""Continuous entry: each continuous journey's cursor over what changed, and the indexes that find the changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "entry_cursor",
        sa.Column("journey_id", sa.String(), primary_key=True),
        sa.Column("position", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # what changed, read in (time, customer) order: continuous entry pages through them
    op.create_index("ix_customer_updated_at_id", "customer", ["updated_at", "id"])
    op.create_index("ix_event_recorded_at_customer_id", "event", ["recorded_at", "customer_id"])


def downgrade() -> None:
    op.drop_index("ix_event_recorded_at_customer_id", table_name="event")
    op.drop_index("ix_customer_updated_at_id", table_name="customer")
    op.drop_table("entry_cursor")
