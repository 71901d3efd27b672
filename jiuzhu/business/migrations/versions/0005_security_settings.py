"""The security administrator's settings (安全策略).

Revision ID: 0005_security_settings
Revises: 0004_monitoring_warnings
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jiuzhu.business.models import UtcDateTime

revision = "0005_security_settings"
down_revision = "0004_monitoring_warnings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("security_settings")
