"""The exchange API's clients (issue #12, EX-6): one per unit, a hashed token, its scopes and area.

Revision ID: 0009_exchange_api
Revises: 0008_public_portal
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jiuzhu.business.models import UtcDateTime

revision = "0009_exchange_api"
down_revision = "0008_public_portal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("unit_name", sa.String(length=128), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=True),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", name="uq_api_clients_client"),
    )
    op.create_index("ix_api_clients_updated_at", "api_clients", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_api_clients_updated_at", table_name="api_clients")
    op.drop_table("api_clients")
