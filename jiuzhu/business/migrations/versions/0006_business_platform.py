"""The business platform: aid-item catalogue and knowledge base, cases with their flow steps,
e-archives and household changes, benefits, disbursement orders and payment reconciliation,
case supervision alerts, staff relatives on file, e-certificates; the recipient (困难群众数据库) and
outcome (救助成果库) views.

Revision ID: 0006_business_platform
Revises: 0005_security_settings
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jiuzhu.business.models import UtcDateTime

revision = "0006_business_platform"
down_revision = "0005_security_settings"
branch_labels = None
depends_on = None


# 困难群众数据库: every member of a household with an active benefit; 救助成果库: what was paid.
RECIPIENTS_VIEW = """
CREATE VIEW v_recipients AS
SELECT b.id AS benefit_id, c.acceptance_no, b.aid_item_code, b.category, b.region_code, b.household_no,
       m.person_id, m.name, m.relation, b.household_size, b.monthly_amount, b.start_period, b.updated_at
FROM benefits b
JOIN assistance_cases c ON c.id = b.case_id
JOIN case_members m ON m.case_id = b.case_id
WHERE b.status = 'active'
"""
OUTCOMES_VIEW = """
CREATE VIEW v_assistance_outcomes AS
SELECT b.id AS benefit_id, c.acceptance_no, b.aid_item_code, b.category, b.region_code, o.period,
       COUNT(o.id) AS orders, SUM(o.amount) AS paid_amount, MAX(o.updated_at) AS updated_at
FROM disbursement_orders o
JOIN benefits b ON b.id = o.benefit_id
JOIN assistance_cases c ON c.id = o.case_id
WHERE o.status = 'paid'
GROUP BY b.id, c.acceptance_no, b.aid_item_code, b.category, b.region_code, o.period
"""


def upgrade() -> None:
    op.create_table(
        "aid_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_code", sa.String(length=48), nullable=False),
        sa.Column("list_kind", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name_zh", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("flow_code", sa.String(length=48), nullable=False),
        sa.Column("definition_json", sa.Text(), nullable=False),
        sa.Column("edited_by", sa.String(length=64), nullable=False),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("published_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("list_kind IN ('catalogue', 'implementation')", name="ck_aid_items_kind"),
        sa.CheckConstraint(
            "status IN ('draft', 'in_review', 'published', 'rejected', 'retired')", name="ck_aid_items_status"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_code", "region_code", "version", name="uq_aid_items_version"),
    )
    op.create_index("ix_aid_items_code_status", "aid_items", ["item_code", "status"], unique=False)
    op.create_index("ix_aid_items_updated_at", "aid_items", ["updated_at"], unique=False)

    op.create_table(
        "archive_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("archive_no", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("household_no", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("filename", sa.String(length=256), nullable=False),
        sa.Column("media_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("archived_by", sa.String(length=64), nullable=False),
        sa.Column("archived_at", UtcDateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("archive_no", name="uq_archive_documents_no"),
    )
    op.create_index("ix_archive_documents_case", "archive_documents", ["case_id"], unique=False)
    op.create_index("ix_archive_documents_household", "archive_documents", ["household_no"], unique=False)
    op.create_index("ix_archive_documents_updated_at", "archive_documents", ["updated_at"], unique=False)

    op.create_table(
        "assistance_cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("acceptance_no", sa.String(length=32), nullable=False),
        sa.Column("aid_item_code", sa.String(length=48), nullable=False),
        sa.Column("item_version", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("flow_code", sa.String(length=48), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("household_no", sa.String(length=32), nullable=True),
        sa.Column("applicant_person_id", sa.String(length=18), nullable=False),
        sa.Column("applicant_name", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_step", sa.String(length=32), nullable=True),
        sa.Column("verification_request_no", sa.String(length=32), nullable=True),
        sa.Column("assessment", sa.String(length=16), nullable=True),
        sa.Column("proposed_amount", sa.Float(), nullable=True),
        sa.Column("approved_amount", sa.Float(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("duplicate_check_json", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('in_progress', 'suspended', 'approved', 'refused', 'withdrawn', 'closed')",
            name="ck_assistance_cases_status",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("acceptance_no", name="uq_assistance_cases_no"),
    )
    op.create_index(
        "ix_assistance_cases_applicant", "assistance_cases", ["applicant_person_id"], unique=False
    )
    op.create_index(
        "ix_assistance_cases_region_status", "assistance_cases", ["region_code", "status"], unique=False
    )
    op.create_index("ix_assistance_cases_updated_at", "assistance_cases", ["updated_at"], unique=False)

    op.create_table(
        "benefits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("aid_item_code", sa.String(length=48), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("household_no", sa.String(length=32), nullable=True),
        sa.Column("holder_person_id", sa.String(length=18), nullable=False),
        sa.Column("holder_name", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("household_size", sa.Integer(), nullable=False),
        sa.Column("monthly_amount", sa.Float(), nullable=False),
        sa.Column("start_period", sa.String(length=7), nullable=False),
        sa.Column("end_period", sa.String(length=7), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'ended')", name="ck_benefits_status"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", name="uq_benefits_case"),
    )
    op.create_index("ix_benefits_region_status", "benefits", ["region_code", "status"], unique=False)
    op.create_index("ix_benefits_updated_at", "benefits", ["updated_at"], unique=False)

    op.create_table(
        "case_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("dedup_key", sa.String(length=128), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_at", UtcDateTime(), nullable=False),
        sa.Column("handled_by", sa.String(length=64), nullable=True),
        sa.Column("handling_note", sa.Text(), nullable=True),
        sa.Column("handled_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("severity IN ('low', 'medium', 'high')", name="ck_case_alerts_severity"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key", name="uq_case_alerts_dedup"),
    )
    op.create_index("ix_case_alerts_region_status", "case_alerts", ["region_code", "status"], unique=False)
    op.create_index("ix_case_alerts_updated_at", "case_alerts", ["updated_at"], unique=False)

    op.create_table(
        "case_members",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("relation", sa.String(length=2), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "person_id", name="uq_case_members_person"),
    )
    op.create_index("ix_case_members_person", "case_members", ["person_id"], unique=False)

    op.create_table(
        "case_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step_code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("office_level", sa.String(length=16), nullable=False),
        sa.Column("office_code", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("handled_by", sa.String(length=64), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("suspended_at", UtcDateTime(), nullable=True),
        sa.Column("suspend_reason", sa.Text(), nullable=True),
        sa.Column("transferred_from", sa.String(length=12), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("warned_at", UtcDateTime(), nullable=True),
        sa.Column("overdue_at", UtcDateTime(), nullable=True),
        sa.Column("escalated_to", sa.String(length=12), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('todo', 'suspended', 'done')", name="ck_case_steps_status"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_steps_case", "case_steps", ["case_id", "seq"], unique=False)
    op.create_index("ix_case_steps_office_status", "case_steps", ["office_code", "status"], unique=False)
    op.create_index("ix_case_steps_updated_at", "case_steps", ["updated_at"], unique=False)

    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cert_no", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("benefit_id", sa.Integer(), nullable=False),
        sa.Column("holder_person_id", sa.String(length=18), nullable=False),
        sa.Column("holder_name", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("valid_from", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("content_sm3", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("check_code", sa.String(length=16), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('valid', 'revoked')", name="ck_certificates_status"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cert_no", name="uq_certificates_no"),
    )
    op.create_index("ix_certificates_benefit", "certificates", ["benefit_id"], unique=False)
    op.create_index("ix_certificates_updated_at", "certificates", ["updated_at"], unique=False)

    op.create_table(
        "disbursement_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_no", sa.String(length=40), nullable=False),
        sa.Column("benefit_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("payee_person_id", sa.String(length=18), nullable=False),
        sa.Column("payee_name", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spot_check", sa.Boolean(), nullable=False),
        sa.Column("checked_by", sa.String(length=64), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("batch_no", sa.String(length=40), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending_check', 'checked', 'returned', 'in_batch', 'paid', 'failed', 'mismatch')",
            name="ck_disbursement_orders_status",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("benefit_id", "period", name="uq_disbursement_orders_benefit_period"),
        sa.UniqueConstraint("order_no", name="uq_disbursement_orders_no"),
    )
    op.create_index(
        "ix_disbursement_orders_region_status", "disbursement_orders", ["region_code", "status"], unique=False
    )
    op.create_index("ix_disbursement_orders_updated_at", "disbursement_orders", ["updated_at"], unique=False)

    op.create_table(
        "household_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("household_no", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("effective_on", sa.String(length=10), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('benefit_change', 'migration', 'member_change', 'info_change')",
            name="ck_household_changes_kind",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_household_changes_household", "household_changes", ["household_no", "recorded_at"], unique=False
    )
    op.create_index("ix_household_changes_updated_at", "household_changes", ["updated_at"], unique=False)

    op.create_table(
        "payment_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_no", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("total_amount", sa.Float(), nullable=False),
        sa.Column("file_sm3", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("generated_by", sa.String(length=64), nullable=False),
        sa.Column("generated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_no", name="uq_payment_batches_no"),
    )
    op.create_table(
        "payment_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_no", sa.String(length=40), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("order_no", sa.String(length=40), nullable=False),
        sa.Column("payee_person_id", sa.String(length=18), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("paid_on", sa.String(length=10), nullable=False),
        sa.Column("bank_status", sa.String(length=16), nullable=False),
        sa.Column("imported_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_no", "line_no", name="uq_payment_results_line"),
    )
    op.create_index("ix_payment_results_order", "payment_results", ["order_no"], unique=False)

    op.create_table(
        "policy_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=256), nullable=False),
        sa.Column("media_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_policy_attachments_document", "policy_attachments", ["document_id"], unique=False)

    op.create_table(
        "policy_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("doc_no", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("issuer", sa.String(length=128), nullable=False),
        sa.Column("issued_on", sa.String(length=10), nullable=False),
        sa.Column("aid_item_code", sa.String(length=48), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("doc_no", name="uq_policy_documents_no"),
    )
    op.create_index("ix_policy_documents_updated_at", "policy_documents", ["updated_at"], unique=False)

    op.create_table(
        "policy_terms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("in_title", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id", "term", name="uq_policy_terms_document_term"),
    )
    op.create_index("ix_policy_terms_term", "policy_terms", ["term"], unique=False)

    op.create_table(
        "reconciliation_issues",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_no", sa.String(length=40), nullable=False),
        sa.Column("order_no", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_at", UtcDateTime(), nullable=False),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('missing', 'duplicate', 'wrong_amount', 'unknown_order', 'failed', 'wrong_payee')",
            name="ck_reconciliation_issues_kind",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reconciliation_issues_batch", "reconciliation_issues", ["batch_no"], unique=False)

    op.create_table(
        "staff_relatives",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=18), nullable=False),
        sa.Column("relation_zh", sa.String(length=16), nullable=False),
        sa.Column("filed_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", "person_id", name="uq_staff_relatives_person"),
    )
    op.create_index("ix_staff_relatives_person", "staff_relatives", ["person_id"], unique=False)
    op.execute(RECIPIENTS_VIEW)
    op.execute(OUTCOMES_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW v_assistance_outcomes")
    op.execute("DROP VIEW v_recipients")
    op.drop_index("ix_staff_relatives_person", table_name="staff_relatives")

    op.drop_table("staff_relatives")
    op.drop_index("ix_reconciliation_issues_batch", table_name="reconciliation_issues")

    op.drop_table("reconciliation_issues")
    op.drop_index("ix_policy_terms_term", table_name="policy_terms")

    op.drop_table("policy_terms")
    op.drop_index("ix_policy_documents_updated_at", table_name="policy_documents")

    op.drop_table("policy_documents")
    op.drop_index("ix_policy_attachments_document", table_name="policy_attachments")

    op.drop_table("policy_attachments")
    op.drop_index("ix_payment_results_order", table_name="payment_results")

    op.drop_table("payment_results")
    op.drop_table("payment_batches")
    op.drop_index("ix_household_changes_updated_at", table_name="household_changes")
    op.drop_index("ix_household_changes_household", table_name="household_changes")

    op.drop_table("household_changes")
    op.drop_index("ix_disbursement_orders_updated_at", table_name="disbursement_orders")
    op.drop_index("ix_disbursement_orders_region_status", table_name="disbursement_orders")

    op.drop_table("disbursement_orders")
    op.drop_index("ix_certificates_updated_at", table_name="certificates")
    op.drop_index("ix_certificates_benefit", table_name="certificates")

    op.drop_table("certificates")
    op.drop_index("ix_case_steps_updated_at", table_name="case_steps")
    op.drop_index("ix_case_steps_office_status", table_name="case_steps")
    op.drop_index("ix_case_steps_case", table_name="case_steps")

    op.drop_table("case_steps")
    op.drop_index("ix_case_members_person", table_name="case_members")

    op.drop_table("case_members")
    op.drop_index("ix_case_alerts_updated_at", table_name="case_alerts")
    op.drop_index("ix_case_alerts_region_status", table_name="case_alerts")

    op.drop_table("case_alerts")
    op.drop_index("ix_benefits_updated_at", table_name="benefits")
    op.drop_index("ix_benefits_region_status", table_name="benefits")

    op.drop_table("benefits")
    op.drop_index("ix_assistance_cases_updated_at", table_name="assistance_cases")
    op.drop_index("ix_assistance_cases_region_status", table_name="assistance_cases")
    op.drop_index("ix_assistance_cases_applicant", table_name="assistance_cases")

    op.drop_table("assistance_cases")
    op.drop_index("ix_archive_documents_updated_at", table_name="archive_documents")
    op.drop_index("ix_archive_documents_household", table_name="archive_documents")
    op.drop_index("ix_archive_documents_case", table_name="archive_documents")

    op.drop_table("archive_documents")
    op.drop_index("ix_aid_items_updated_at", table_name="aid_items")
    op.drop_index("ix_aid_items_code_status", table_name="aid_items")

    op.drop_table("aid_items")
