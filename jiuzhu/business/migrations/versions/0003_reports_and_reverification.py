"""Issued verification reports (the registry signed PDFs are checked against) and the county
work queues of the batch re-verification (动态复核).

Revision ID: 0003_reports_and_reverification
Revises: 0002_verification_requests
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jiuzhu.business.models import UtcDateTime

revision = "0003_reports_and_reverification"
down_revision = "0002_verification_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("report_no", sa.String(40), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("as_of", UtcDateTime(), nullable=False),
        sa.Column("content_sm3", sa.String(64), nullable=False),
        sa.Column("file_sm3", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("table_versions_json", sa.Text(), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("report_no", name="uq_verification_reports_no"),
        sa.UniqueConstraint("request_id", name="uq_verification_reports_request"),
    )
    op.create_index("ix_verification_reports_updated_at", "verification_reports", ["updated_at"])
    op.create_table(
        "reverification_tasks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("household_no", sa.String(32), nullable=False),
        sa.Column("county_code", sa.String(12), nullable=False),
        sa.Column("aid_item", sa.String(32), nullable=False),
        sa.Column("assessment", sa.String(16), nullable=False),
        sa.Column("reasons_json", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pushed_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("handled_by", sa.String(64), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("household_no", "period", name="uq_reverification_tasks_household_period"),
        sa.CheckConstraint("status IN ('pending', 'in_review', 'confirmed', 'cleared')",
                           name="ck_reverification_tasks_status"),
    )
    op.create_index("ix_reverification_tasks_county_status", "reverification_tasks", ["county_code", "status"])
    op.create_index("ix_reverification_tasks_updated_at", "reverification_tasks", ["updated_at"])


def downgrade() -> None:
    op.drop_table("reverification_tasks")
    op.drop_table("verification_reports")
