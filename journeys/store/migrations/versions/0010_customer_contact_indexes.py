"""Customers found by contact: an index on lower(email) and one on phone. `customers import` asks, for each chunk
of rows, which stored customers hold its emails and phones; without them each chunk read the whole table, so
an import into a large store (or a large import) slowed down with every chunk. Inbound SMS finds its sender by
phone too.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_customer_email_lower", "customer", [sa.text("lower(email)")])
    op.create_index("ix_customer_phone", "customer", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_customer_phone", table_name="customer")
    op.drop_index("ix_customer_email_lower", table_name="customer")
