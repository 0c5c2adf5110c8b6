"""Durable delivery: an event is delivered once every live run it concerns has taken it in (`delivered_at`);
until then journeys delivers it itself. `only_journey`: an event meant for one journey's runs (`--journey`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("delivered_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("only_journey", sa.String(), nullable=True))
    op.execute("UPDATE event SET delivered_at = recorded_at")  # what was recorded before was delivered then
    op.create_index("ix_event_pending", "event", ["recorded_at"], postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_event_pending", table_name="event")
    with op.batch_alter_table("event") as batch:
        batch.drop_column("only_journey")
        batch.drop_column("delivered_at")
