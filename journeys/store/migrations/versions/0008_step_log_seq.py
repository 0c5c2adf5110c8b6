"""Each step a run entered carries its number within the run, unique per run: a workflow task retried after a
worker died logs its steps again with new times, and the number makes that second logging a no-op.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("step_log") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))  # null: logged before steps were numbered
    op.create_index("ix_step_log_workflow_id_seq", "step_log", ["workflow_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_step_log_workflow_id_seq", table_name="step_log")
    with op.batch_alter_table("step_log") as batch:
        batch.drop_column("seq")
