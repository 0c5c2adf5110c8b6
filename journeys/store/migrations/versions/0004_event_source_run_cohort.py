"""Where each event came from (cli, api, provider, import), and the split cohort a run fell in.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("source", sa.String(), nullable=True))  # null: recorded before sources were kept
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("cohort", sa.String(), nullable=True))  # null: the run passed no split step


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("cohort")
    with op.batch_alter_table("event") as batch:
        batch.drop_column("source")
