"""The townships' monitoring-warning queues (监测预警).

Revision ID: 0004_monitoring_warnings
Revises: 0003_reports_and_reverification
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jiuzhu.business.models import UtcDateTime

revision = "0004_monitoring_warnings"
down_revision = "0003_reports_and_reverification"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitoring_warnings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("household_no", sa.String(32), nullable=False),
        sa.Column("township_code", sa.String(12), nullable=False),
        sa.Column("county_code", sa.String(12), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("risk_index", sa.Float(), nullable=False),
        sa.Column("reasons_json", sa.Text(), nullable=False),
        sa.Column("factors_json", sa.Text(), nullable=False),
        sa.Column("resources_json", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("config_version", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pushed_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("visited_at", UtcDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("handled_by", sa.String(64), nullable=True),
        sa.Column("visit_note", sa.Text(), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("household_no", "period", name="uq_monitoring_warnings_household_period"),
        sa.CheckConstraint("status IN ('pending', 'visited', 'referred', 'dismissed')",
                           name="ck_monitoring_warnings_status"),
        sa.CheckConstraint("severity IN ('low', 'medium', 'high')", name="ck_monitoring_warnings_severity"),
    )
    op.create_index("ix_monitoring_warnings_township_status", "monitoring_warnings", ["township_code", "status"])
    op.create_index("ix_monitoring_warnings_household", "monitoring_warnings", ["household_no", "pushed_at"])
    op.create_index("ix_monitoring_warnings_updated_at", "monitoring_warnings", ["updated_at"])


def downgrade() -> None:
    op.drop_table("monitoring_warnings")
