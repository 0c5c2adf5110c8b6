"""The initial schema: customers, events, documents, runs, the step log, messages, versions, pauses.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("locale", sa.String(), nullable=True),
        sa.Column("timezone", sa.String(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("consent", sa.JSON(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _at("at"),
        _at("recorded_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_event_customer_id", "event", ["customer_id"])
    op.create_index("ix_event_name", "event", ["name"])
    op.create_table(
        "document",
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        _at("at"),
        sa.PrimaryKeyConstraint("customer_id", "kind"),
    )
    op.create_table(
        "run",
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("journey_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("entry", sa.Integer(), nullable=False),
        _at("started_at"),
        _at("ended_at", nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("exit_event", sa.String(), nullable=True),
        sa.Column("end_label", sa.String(), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("current_step", sa.String(), nullable=True),
        sa.Column("waiting_for", sa.JSON(), nullable=False),
        _at("until", nullable=True),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("workflow_id"),
    )
    op.create_index("ix_run_journey_id", "run", ["journey_id"])
    op.create_index("ix_run_customer_id_journey_id", "run", ["customer_id", "journey_id"])
    op.create_table(
        "step_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("journey_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("from_step", sa.String(), nullable=True),
        _at("at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_step_log_workflow_id", "step_log", ["workflow_id"])
    op.create_index("ix_step_log_journey_id", "step_log", ["journey_id"])
    op.create_table(
        "message",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("journey_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=True),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=True),
        sa.Column("provider_id", sa.String(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _at("created_at"),
        _at("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_message_workflow_id", "message", ["workflow_id"])
    op.create_index("ix_message_customer_id_created_at", "message", ["customer_id", "created_at"])
    op.create_table(
        "journey_version",
        sa.Column("journey_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _at("first_used_at"),
        sa.PrimaryKeyConstraint("journey_id", "version"),
    )
    op.create_table(
        "journey_state",
        sa.Column("journey_id", sa.String(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("journey_id"),
    )


def downgrade() -> None:
    for table in ("journey_state", "journey_version", "message", "step_log", "run", "document", "event", "customer"):
        op.drop_table(table)
