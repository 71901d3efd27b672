"""Benefit mechanics (issue #15): the household facts and the terms a benefit is computed on, the
breakdown stored with the proposal, the benefit and every disbursement order, the gradual-exit months
left, and recovery / back-pay items (后补追缴) raised for review.

Revision ID: 0007_benefit_mechanics
Revises: 0006_business_platform
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jiuzhu.business.models import UtcDateTime

revision = "0007_benefit_mechanics"
down_revision = "0006_business_platform"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("assistance_cases", sa.Column("proposed_breakdown_json", sa.Text(), nullable=True))
    op.add_column("assistance_cases", sa.Column("benefit_facts_json", sa.Text(), nullable=True))
    op.add_column("benefits", sa.Column("rule_kind", sa.String(length=16), nullable=True))
    op.add_column("benefits", sa.Column("facts_json", sa.Text(), nullable=True))
    op.add_column("benefits", sa.Column("breakdown_json", sa.Text(), nullable=True))
    op.add_column("benefits", sa.Column("exit_months_left", sa.Integer(), nullable=True))
    op.add_column("disbursement_orders", sa.Column("breakdown_json", sa.Text(), nullable=True))
    op.create_table(
        "benefit_adjustments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("benefit_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("paid_amount", sa.Float(), nullable=False),
        sa.Column("correct_amount", sa.Float(), nullable=False),
        sa.Column("difference", sa.Float(), nullable=False),
        sa.Column("reasons_json", sa.Text(), nullable=False),
        sa.Column("breakdown_json", sa.Text(), nullable=False),
        sa.Column("table_versions_json", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detected_at", UtcDateTime(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", UtcDateTime(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("settled_order_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('recovery', 'back_pay')", name="ck_benefit_adjustments_kind"),
        sa.CheckConstraint("status IN ('pending_review', 'confirmed', 'dismissed')",
                           name="ck_benefit_adjustments_status"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", name="uq_benefit_adjustments_order"),
    )
    op.create_index("ix_benefit_adjustments_region_status", "benefit_adjustments", ["region_code", "status"],
                    unique=False)
    op.create_index("ix_benefit_adjustments_updated_at", "benefit_adjustments", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_benefit_adjustments_updated_at", table_name="benefit_adjustments")
    op.drop_index("ix_benefit_adjustments_region_status", table_name="benefit_adjustments")
    op.drop_table("benefit_adjustments")
    with op.batch_alter_table("disbursement_orders") as batch:
        batch.drop_column("breakdown_json")
    with op.batch_alter_table("benefits") as batch:
        for name in ("exit_months_left", "breakdown_json", "facts_json", "rule_kind"):
            batch.drop_column(name)
    with op.batch_alter_table("assistance_cases") as batch:
        batch.drop_column("benefit_facts_json")
        batch.drop_column("proposed_breakdown_json")
