"""The public portal (issue #10): registered citizens (real identity: name, citizen ID, phone),
rate-limit events, and complaints, reports and consultations with their re-encoded images, routed to
the responsible office and tracked to closure.

Revision ID: 0008_public_portal
Revises: 0007_benefit_mechanics
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jiuzhu.business.models import UtcDateTime

revision = "0008_public_portal"
down_revision = "0007_benefit_mechanics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("identity_checked", sa.String(length=16), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("registered_at", UtcDateTime(), nullable=False),
        sa.Column("last_login_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", name="uq_citizens_person"),
    )
    op.create_index("ix_citizens_updated_at", "citizens", ["updated_at"], unique=False)
    op.create_table(
        "portal_rate_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bucket", sa.String(length=96), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_portal_rate_events_bucket", "portal_rate_events", ["bucket", "at"], unique=False)
    op.create_index("ix_portal_rate_events_updated_at", "portal_rate_events", ["updated_at"], unique=False)
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_no", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("contact_phone", sa.String(length=11), nullable=True),
        sa.Column("query_code_hash", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("office_code", sa.String(length=12), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("handled_by", sa.String(length=64), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_at", UtcDateTime(), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('complaint', 'report', 'consultation')", name="ck_complaints_kind"),
        sa.CheckConstraint("status IN ('open', 'replied', 'closed')", name="ck_complaints_status"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_no", name="uq_complaints_ticket"),
    )
    op.create_index("ix_complaints_office_status", "complaints", ["office_code", "status"], unique=False)
    op.create_index("ix_complaints_updated_at", "complaints", ["updated_at"], unique=False)
    op.create_table(
        "complaint_images",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_complaint_images_complaint", "complaint_images", ["complaint_id"], unique=False)
    op.create_index("ix_complaint_images_updated_at", "complaint_images", ["updated_at"], unique=False)


def downgrade() -> None:
    for table, indexes in (("complaint_images", ("ix_complaint_images_updated_at", "ix_complaint_images_complaint")),
                           ("complaints", ("ix_complaints_updated_at", "ix_complaints_office_status")),
                           ("portal_rate_events", ("ix_portal_rate_events_updated_at", "ix_portal_rate_events_bucket")),
                           ("citizens", ("ix_citizens_updated_at",))):
        for index in indexes:
            op.drop_index(index, table_name=table)
        op.drop_table(table)
