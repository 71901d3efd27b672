"""Verification requests and their members.

Revision ID: 0002_verification_requests
Revises: 0001_initial
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jiuzhu.business.models import UtcDateTime

revision = "0002_verification_requests"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_no", sa.String(32), nullable=False),
        sa.Column("commissioning_unit", sa.String(128), nullable=False),
        sa.Column("aid_item", sa.String(32), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("authorisation_ref", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("as_of", UtcDateTime(), nullable=True),
        sa.Column("assessment", sa.String(16), nullable=True),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("received_by", sa.String(64), nullable=True),
        sa.Column("verified_by", sa.String(64), nullable=True),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("request_no", name="uq_verification_requests_no"),
        sa.CheckConstraint(
            "status IN ('submitted', 'received', 'verified', 'reviewed', 'reported', 'rejected')",
            name="ck_verification_requests_status",
        ),
    )
    op.create_index("ix_verification_requests_region_status", "verification_requests", ["region_code", "status"])
    op.create_index("ix_verification_requests_updated_at", "verification_requests", ["updated_at"])
    op.create_table(
        "verification_request_members",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(18), nullable=False),
        sa.Column("relation", sa.String(2), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("request_id", "person_id", name="uq_verification_members_person"),
    )
    op.create_index("ix_verification_members_request", "verification_request_members", ["request_id"])


def downgrade() -> None:
    op.drop_table("verification_request_members")
    op.drop_table("verification_requests")
