"""SQLAlchemy 2 declarative models of the business database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator):
    """An aware UTC timestamp on every backend.

    SQLite has no time-zone type and hands back naive values, PostgreSQL hands back aware ones in
    the session's zone. The audit hash covers timestamps, so both must read back identically:
    we store UTC and always return an aware UTC datetime.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the business database stores aware UTC timestamps only")
        value = value.astimezone(UTC)
        # SQLite would store the offset text and compare strings; keep one canonical form there.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    display_name: Mapped[str] = mapped_column(String(128), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    jurisdiction_code: Mapped[str] = mapped_column(String(12), nullable=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("username", name="uq_users_username"),
        Index("ix_users_updated_at", "updated_at"),
    )


class AuditLog(Base):
    """One audit entry. ``seq`` orders the hash chain; ``id`` is only the storage key."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    subject_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    region_code: Mapped[str | None] = mapped_column(String(12), nullable=True)
    purpose: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    entry_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("seq", name="uq_audit_log_seq"),
        CheckConstraint(
            "outcome IN ('allowed', 'denied', 'success', 'failure')", name="ck_audit_log_outcome"
        ),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_subject_key", "subject_key"),
        Index("ix_audit_log_updated_at", "updated_at"),
    )


class VerificationRequest(Base):
    """委托核对申请: one request from a commissioning unit for one family (members may be registered
    in different counties or cities), through its lifecycle."""

    __tablename__ = "verification_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(32), nullable=False)
    commissioning_unit: Mapped[str] = mapped_column(String(128), nullable=False)
    aid_item: Mapped[str] = mapped_column(String(32), nullable=False)
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    authorisation_ref: Mapped[str] = mapped_column(String(64), nullable=False)  # 核对授权书编号
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)  # the responsible (applicant's) region
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    rejection_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    as_of: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    assessment: Mapped[str | None] = mapped_column(String(16), nullable=True)
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_by: Mapped[str] = mapped_column(String(64), nullable=False)
    received_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    verified_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("request_no", name="uq_verification_requests_no"),
        CheckConstraint(
            "status IN ('submitted', 'received', 'verified', 'reviewed', 'reported', 'rejected')",
            name="ck_verification_requests_status",
        ),
        Index("ix_verification_requests_region_status", "region_code", "status"),
        Index("ix_verification_requests_updated_at", "updated_at"),
    )


class VerificationMember(Base):
    """A member of the family a request names, with the relation the applicant states."""

    __tablename__ = "verification_request_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(Integer, nullable=False)
    person_id: Mapped[str] = mapped_column(String(18), nullable=False)  # verification zone only
    relation: Mapped[str] = mapped_column(String(2), nullable=False)
    region_code: Mapped[str | None] = mapped_column(String(12), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("request_id", "person_id", name="uq_verification_members_person"),
        Index("ix_verification_members_request", "request_id"),
    )


class VerificationReport(Base):
    """出具的核对报告: the registry a signed PDF is checked against. The content hash covers the
    report's data, the file hash the PDF as issued; the table versions let it be regenerated."""

    __tablename__ = "verification_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_no: Mapped[str] = mapped_column(String(40), nullable=False)
    request_id: Mapped[int] = mapped_column(Integer, nullable=False)
    period: Mapped[str] = mapped_column(String(7), nullable=False)  # the assessed month
    as_of: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    content_sm3: Mapped[str] = mapped_column(String(64), nullable=False)
    file_sm3: Mapped[str] = mapped_column(String(64), nullable=False)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    table_versions_json: Mapped[str] = mapped_column(Text, nullable=False)
    issued_by: Mapped[str] = mapped_column(String(64), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("report_no", name="uq_verification_reports_no"),
        UniqueConstraint("request_id", name="uq_verification_reports_request"),
        Index("ix_verification_reports_updated_at", "updated_at"),
    )


class ReverificationTask(Base):
    """动态复核工作队列: a recipient household the batch re-verification found not to meet the
    conditions, pushed to its county, handled to an outcome within the time limit."""

    __tablename__ = "reverification_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    household_no: Mapped[str] = mapped_column(String(32), nullable=False)
    county_code: Mapped[str] = mapped_column(String(12), nullable=False)  # 12-digit code of the county
    aid_item: Mapped[str] = mapped_column(String(32), nullable=False)
    assessment: Mapped[str] = mapped_column(String(16), nullable=False)
    reasons_json: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    pushed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    handled_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("household_no", "period", name="uq_reverification_tasks_household_period"),
        CheckConstraint("status IN ('pending', 'in_review', 'confirmed', 'cleared')",
                        name="ck_reverification_tasks_status"),
        Index("ix_reverification_tasks_county_status", "county_code", "status"),
        Index("ix_reverification_tasks_updated_at", "updated_at"),
    )


class MonitoringWarning(Base):
    """监测预警: a household the monitoring (rules and risk model) warns about, pushed to its
    township's queue, visited and then referred for determination or dismissed with a reason."""

    __tablename__ = "monitoring_warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    household_no: Mapped[str] = mapped_column(String(32), nullable=False)
    township_code: Mapped[str] = mapped_column(String(12), nullable=False)  # 12 digits
    county_code: Mapped[str] = mapped_column(String(12), nullable=False)  # 12 digits
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # rule, model, rule+model
    severity: Mapped[str] = mapped_column(String(8), nullable=False)  # low, medium, high
    probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    risk_index: Mapped[float] = mapped_column(Float, nullable=False)
    reasons_json: Mapped[str] = mapped_column(Text, nullable=False)
    factors_json: Mapped[str] = mapped_column(Text, nullable=False)
    resources_json: Mapped[str] = mapped_column(Text, nullable=False)
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    config_version: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    pushed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    visited_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handled_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    visit_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("household_no", "period", name="uq_monitoring_warnings_household_period"),
        CheckConstraint("status IN ('pending', 'visited', 'referred', 'dismissed')",
                        name="ck_monitoring_warnings_status"),
        CheckConstraint("severity IN ('low', 'medium', 'high')", name="ck_monitoring_warnings_severity"),
        Index("ix_monitoring_warnings_township_status", "township_code", "status"),
        Index("ix_monitoring_warnings_household", "household_no", "pushed_at"),
        Index("ix_monitoring_warnings_updated_at", "updated_at"),
    )


class SecuritySetting(Base):
    """安全策略: the security administrator's settings (login lockout, session limits); a missing
    row means the default of ``jiuzhu.security_settings``."""

    __tablename__ = "security_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


# --- The business platform (issue #9): catalogue, cases, archives, funds, supervision, certificates ---


class AidItem(Base):
    """救助事项: one version of a catalogue list entry (目录清单, province) or of an implementation
    list entry (实施清单, one region), through edit → review → publish (清单发布). The definition
    (legal basis, scope, conditions, materials, flow, standards, time limits, where to go) is JSON."""

    __tablename__ = "aid_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_code: Mapped[str] = mapped_column(String(48), nullable=False)
    list_kind: Mapped[str] = mapped_column(String(16), nullable=False)  # catalogue | implementation
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)  # the list's region, 12 digits
    level: Mapped[str] = mapped_column(String(16), nullable=False)  # province, city, county, township
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    name_zh: Mapped[str] = mapped_column(String(128), nullable=False)
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    flow_code: Mapped[str] = mapped_column(String(48), nullable=False)
    definition_json: Mapped[str] = mapped_column(Text, nullable=False)
    edited_by: Mapped[str] = mapped_column(String(64), nullable=False)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("item_code", "region_code", "version", name="uq_aid_items_version"),
        CheckConstraint("list_kind IN ('catalogue', 'implementation')", name="ck_aid_items_kind"),
        CheckConstraint("status IN ('draft', 'in_review', 'published', 'rejected', 'retired')",
                        name="ck_aid_items_status"),
        Index("ix_aid_items_code_status", "item_code", "status"),
        Index("ix_aid_items_updated_at", "updated_at"),
    )


class PolicyDocument(Base):
    """知识库: a policy document (text, images, attachments), searchable by its segmented terms."""

    __tablename__ = "policy_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_no: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(256), nullable=False)
    issuer: Mapped[str] = mapped_column(String(128), nullable=False)
    issued_on: Mapped[str] = mapped_column(String(10), nullable=False)  # YYYY-MM-DD
    aid_item_code: Mapped[str | None] = mapped_column(String(48), nullable=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # draft | published | withdrawn
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("doc_no", name="uq_policy_documents_no"),
        Index("ix_policy_documents_updated_at", "updated_at"),
    )


class PolicyAttachment(Base):
    __tablename__ = "policy_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # image | attachment
    filename: Mapped[str] = mapped_column(String(256), nullable=False)
    media_type: Mapped[str] = mapped_column(String(128), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sm3: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (Index("ix_policy_attachments_document", "document_id"),)


class PolicyTerm(Base):
    """One segmented term of a document (jieba, search mode) with its count: the inverted index."""

    __tablename__ = "policy_terms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(Integer, nullable=False)
    term: Mapped[str] = mapped_column(String(64), nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    in_title: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("document_id", "term", name="uq_policy_terms_document_term"),
        Index("ix_policy_terms_term", "term"),
    )


class AssistanceCase(Base):
    """救助申请 (案件): one family's application for one aid item, from acceptance (受理编号) through
    the item's flow to a decision; the source of truth for who receives what."""

    __tablename__ = "assistance_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    acceptance_no: Mapped[str] = mapped_column(String(32), nullable=False)
    aid_item_code: Mapped[str] = mapped_column(String(48), nullable=False)
    item_version: Mapped[int] = mapped_column(Integer, nullable=False)
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    flow_code: Mapped[str] = mapped_column(String(48), nullable=False)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)  # the applicant's township, 12 digits
    household_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    applicant_person_id: Mapped[str] = mapped_column(String(18), nullable=False)
    applicant_name: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)  # window | online
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    current_step: Mapped[str | None] = mapped_column(String(32), nullable=True)
    verification_request_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    assessment: Mapped[str | None] = mapped_column(String(16), nullable=True)
    proposed_amount: Mapped[float | None] = mapped_column(Float, nullable=True)  # yuan per month
    proposed_breakdown_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # entitlement.Breakdown
    benefit_facts_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # the facts it is computed on
    approved_amount: Mapped[float | None] = mapped_column(Float, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    duplicate_check_json: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("acceptance_no", name="uq_assistance_cases_no"),
        CheckConstraint("status IN ('in_progress', 'suspended', 'approved', 'refused', 'withdrawn', 'closed')",
                        name="ck_assistance_cases_status"),
        Index("ix_assistance_cases_region_status", "region_code", "status"),
        Index("ix_assistance_cases_applicant", "applicant_person_id"),
        Index("ix_assistance_cases_updated_at", "updated_at"),
    )


class CaseMember(Base):
    __tablename__ = "case_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(Integer, nullable=False)
    person_id: Mapped[str] = mapped_column(String(18), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    relation: Mapped[str] = mapped_column(String(2), nullable=False)
    region_code: Mapped[str | None] = mapped_column(String(12), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("case_id", "person_id", name="uq_case_members_person"),
        Index("ix_case_members_person", "person_id"),
    )


class CaseStep(Base):
    """One step of a case's flow as a task for the responsible office, with its time limit."""

    __tablename__ = "case_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(Integer, nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    step_code: Mapped[str] = mapped_column(String(32), nullable=False)
    name_zh: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    action: Mapped[str] = mapped_column(String(48), nullable=False)  # the permission it needs
    office_level: Mapped[str] = mapped_column(String(16), nullable=False)
    office_code: Mapped[str] = mapped_column(String(12), nullable=False)  # the responsible office's region
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # todo, suspended, done
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # pass, refuse, return
    handled_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    suspended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    suspend_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    transferred_from: Mapped[str | None] = mapped_column(String(12), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # 办结预警 (due soon)
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    escalated_to: Mapped[str | None] = mapped_column(String(12), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        CheckConstraint("status IN ('todo', 'suspended', 'done')", name="ck_case_steps_status"),
        Index("ix_case_steps_office_status", "office_code", "status"),
        Index("ix_case_steps_case", "case_id", "seq"),
        Index("ix_case_steps_updated_at", "updated_at"),
    )


class ArchiveDocument(Base):
    """档案: a case's material or decision as archived: content, SM3, a trusted timestamp and the
    centre's signature over (number, case, kind, SM3, time), so an altered file or record is found."""

    __tablename__ = "archive_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    archive_no: Mapped[str] = mapped_column(String(40), nullable=False)
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    household_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    title: Mapped[str] = mapped_column(String(256), nullable=False)
    filename: Mapped[str] = mapped_column(String(256), nullable=False)
    media_type: Mapped[str] = mapped_column(String(128), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sm3: Mapped[str] = mapped_column(String(64), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    archived_by: Mapped[str] = mapped_column(String(64), nullable=False)
    archived_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    signature: Mapped[str] = mapped_column(String(128), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("archive_no", name="uq_archive_documents_no"),
        Index("ix_archive_documents_case", "case_id"),
        Index("ix_archive_documents_household", "household_no"),
        Index("ix_archive_documents_updated_at", "updated_at"),
    )


class HouseholdChange(Base):
    """家庭变更记录: benefit changes, migration, members, information changes."""

    __tablename__ = "household_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    household_no: Mapped[str] = mapped_column(String(32), nullable=False)
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    detail_json: Mapped[str] = mapped_column(Text, nullable=False)
    effective_on: Mapped[str] = mapped_column(String(10), nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        CheckConstraint("kind IN ('benefit_change', 'migration', 'member_change', 'info_change')",
                        name="ck_household_changes_kind"),
        Index("ix_household_changes_household", "household_no", "recorded_at"),
        Index("ix_household_changes_updated_at", "updated_at"),
    )


class Benefit(Base):
    """救助成果: an approved case's benefit, active from its start month until it ends."""

    __tablename__ = "benefits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(Integer, nullable=False)
    aid_item_code: Mapped[str] = mapped_column(String(48), nullable=False)
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    household_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    holder_person_id: Mapped[str] = mapped_column(String(18), nullable=False)
    holder_name: Mapped[str] = mapped_column(String(64), nullable=False)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    household_size: Mapped[int] = mapped_column(Integer, nullable=False)
    monthly_amount: Mapped[float] = mapped_column(Float, nullable=False)
    start_period: Mapped[str] = mapped_column(String(7), nullable=False)
    end_period: Mapped[str | None] = mapped_column(String(7), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # active | ended
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # issue #15: how the monthly amount is computed (dibao | single_person | tekun; null: set by hand),
    # on which facts, the latest month's breakdown, and the gradual-exit months left (null: not exiting)
    rule_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    facts_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    breakdown_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    exit_months_left: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("case_id", name="uq_benefits_case"),
        CheckConstraint("status IN ('active', 'ended')", name="ck_benefits_status"),
        Index("ix_benefits_region_status", "region_code", "status"),
        Index("ix_benefits_updated_at", "updated_at"),
    )


class DisbursementOrder(Base):
    """资金拨付单: one month's payment of one benefit, through the finance check to the bank's result."""

    __tablename__ = "disbursement_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_no: Mapped[str] = mapped_column(String(40), nullable=False)
    benefit_id: Mapped[int] = mapped_column(Integer, nullable=False)
    case_id: Mapped[int] = mapped_column(Integer, nullable=False)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    amount: Mapped[float] = mapped_column(Float, nullable=False)
    payee_person_id: Mapped[str] = mapped_column(String(18), nullable=False)
    payee_name: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)  # card (一卡通) | bank
    breakdown_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # how the amount was computed
    account_no: Mapped[str] = mapped_column(String(32), nullable=False)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    spot_check: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    checked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    return_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    batch_no: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("order_no", name="uq_disbursement_orders_no"),
        UniqueConstraint("benefit_id", "period", name="uq_disbursement_orders_benefit_period"),
        CheckConstraint("status IN ('pending_check', 'checked', 'returned', 'in_batch', 'paid', 'failed', "
                        "'mismatch')", name="ck_disbursement_orders_status"),
        Index("ix_disbursement_orders_region_status", "region_code", "status"),
        Index("ix_disbursement_orders_updated_at", "updated_at"),
    )


class PaymentBatch(Base):
    """A payment file sent to the social-security card bank or for bank direct payment."""

    __tablename__ = "payment_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_no: Mapped[str] = mapped_column(String(40), nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    order_count: Mapped[int] = mapped_column(Integer, nullable=False)
    total_amount: Mapped[float] = mapped_column(Float, nullable=False)
    file_sm3: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # sent | reconciled
    generated_by: Mapped[str] = mapped_column(String(64), nullable=False)
    generated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (UniqueConstraint("batch_no", name="uq_payment_batches_no"),)


class PaymentResult(Base):
    """A line of the bank's payment result file, as imported."""

    __tablename__ = "payment_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_no: Mapped[str] = mapped_column(String(40), nullable=False)
    line_no: Mapped[int] = mapped_column(Integer, nullable=False)
    order_no: Mapped[str] = mapped_column(String(40), nullable=False)
    payee_person_id: Mapped[str] = mapped_column(String(18), nullable=False)
    amount: Mapped[float] = mapped_column(Float, nullable=False)
    paid_on: Mapped[str] = mapped_column(String(10), nullable=False)
    bank_status: Mapped[str] = mapped_column(String(16), nullable=False)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("batch_no", "line_no", name="uq_payment_results_line"),
        Index("ix_payment_results_order", "order_no"),
    )


class ReconciliationIssue(Base):
    """对账差异: a payment that does not match its order (missing, duplicated, wrong amount, unknown
    order, failed, wrong payee)."""

    __tablename__ = "reconciliation_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_no: Mapped[str] = mapped_column(String(40), nullable=False)
    order_no: Mapped[str | None] = mapped_column(String(40), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # open | resolved
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        CheckConstraint("kind IN ('missing', 'duplicate', 'wrong_amount', 'unknown_order', 'failed', "
                        "'wrong_payee')", name="ck_reconciliation_issues_kind"),
        Index("ix_reconciliation_issues_batch", "batch_no"),
    )


class BenefitAdjustment(Base):
    """后补追缴: a paid month that data delivered later shows was paid wrongly — recovered (追缴) when
    overpaid, paid back (补发) when underpaid — raised for review, one per disbursement order."""

    __tablename__ = "benefit_adjustments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    benefit_id: Mapped[int] = mapped_column(Integer, nullable=False)
    case_id: Mapped[int] = mapped_column(Integer, nullable=False)
    order_id: Mapped[int] = mapped_column(Integer, nullable=False)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # recovery | back_pay
    paid_amount: Mapped[float] = mapped_column(Float, nullable=False)
    correct_amount: Mapped[float] = mapped_column(Float, nullable=False)
    difference: Mapped[float] = mapped_column(Float, nullable=False)  # correct − paid
    reasons_json: Mapped[str] = mapped_column(Text, nullable=False)  # what the later data changed, in Chinese
    breakdown_json: Mapped[str] = mapped_column(Text, nullable=False)  # the correct amount's breakdown
    table_versions_json: Mapped[str] = mapped_column(Text, nullable=False)  # the data it was found in
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    settled_order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the order a back pay rode on
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("order_id", name="uq_benefit_adjustments_order"),
        CheckConstraint("kind IN ('recovery', 'back_pay')", name="ck_benefit_adjustments_kind"),
        CheckConstraint("status IN ('pending_review', 'confirmed', 'dismissed')", name="ck_benefit_adjustments_status"),
        Index("ix_benefit_adjustments_region_status", "region_code", "status"),
        Index("ix_benefit_adjustments_updated_at", "updated_at"),
    )


class CaseAlert(Base):
    """电子监察 over cases: a rule's finding (overdue step, approval outside policy, payment without
    approval, the same person aided twice, an officer approving a relative's case), handled to closure."""

    __tablename__ = "case_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(32), nullable=False)
    dedup_key: Mapped[str] = mapped_column(String(128), nullable=False)
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    severity: Mapped[str] = mapped_column(String(8), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)  # Chinese, no names or IDs
    detail_json: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # open | handled
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    handled_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handling_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_case_alerts_dedup"),
        CheckConstraint("severity IN ('low', 'medium', 'high')", name="ck_case_alerts_severity"),
        Index("ix_case_alerts_region_status", "region_code", "status"),
        Index("ix_case_alerts_updated_at", "updated_at"),
    )


class StaffRelative(Base):
    """近亲属备案: a staff member's (or village cadre's) declared close relative."""

    __tablename__ = "staff_relatives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    person_id: Mapped[str] = mapped_column(String(18), nullable=False)
    relation_zh: Mapped[str] = mapped_column(String(16), nullable=False)
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("username", "person_id", name="uq_staff_relatives_person"),
        Index("ix_staff_relatives_person", "person_id"),
    )


class Certificate(Base):
    """电子证照: a signed recipient certificate (低保证, 特困证) with a check code; revoked when the
    benefit ends."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cert_no: Mapped[str] = mapped_column(String(40), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # dibao | tekun
    case_id: Mapped[int] = mapped_column(Integer, nullable=False)
    benefit_id: Mapped[int] = mapped_column(Integer, nullable=False)
    holder_person_id: Mapped[str] = mapped_column(String(18), nullable=False)
    holder_name: Mapped[str] = mapped_column(String(64), nullable=False)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    valid_from: Mapped[str] = mapped_column(String(10), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # valid | revoked
    content_sm3: Mapped[str] = mapped_column(String(64), nullable=False)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    signature: Mapped[str] = mapped_column(String(128), nullable=False)
    check_code: Mapped[str] = mapped_column(String(16), nullable=False)
    issued_by: Mapped[str] = mapped_column(String(64), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("cert_no", name="uq_certificates_no"),
        CheckConstraint("status IN ('valid', 'revoked')", name="ck_certificates_status"),
        Index("ix_certificates_benefit", "benefit_id"),
        Index("ix_certificates_updated_at", "updated_at"),
    )


class Citizen(Base):
    """公众用户: registered on the public portal by real identity (name, citizen ID, phone)."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(18), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    phone: Mapped[str] = mapped_column(String(11), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    identity_checked: Mapped[str] = mapped_column(String(16), nullable=False)  # registry | check_digit
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("person_id", name="uq_citizens_person"),
        Index("ix_citizens_updated_at", "updated_at"),
    )


class PortalRateEvent(Base):
    """One attempt counted against a rate limit (a pseudonymous bucket: action + key digest)."""

    __tablename__ = "portal_rate_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(96), nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        Index("ix_portal_rate_events_bucket", "bucket", "at"),
        Index("ix_portal_rate_events_updated_at", "updated_at"),
    )


class Complaint(Base):
    """投诉、举报(署名/匿名)与咨询: routed to the responsible office with a committed reply date."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_no: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # complaint | report | consultation
    signed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    citizen_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # null when anonymous
    contact_phone: Mapped[str | None] = mapped_column(String(11), nullable=True)
    query_code_hash: Mapped[str] = mapped_column(String(64), nullable=False)  # SM3 of the query code
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)  # where the matter is
    office_code: Mapped[str] = mapped_column(String(12), nullable=False)  # who must answer
    subject: Mapped[str] = mapped_column(String(128), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # open | replied | closed
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    handled_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("ticket_no", name="uq_complaints_ticket"),
        CheckConstraint("kind IN ('complaint', 'report', 'consultation')", name="ck_complaints_kind"),
        CheckConstraint("status IN ('open', 'replied', 'closed')", name="ck_complaints_status"),
        Index("ix_complaints_office_status", "office_code", "status"),
        Index("ix_complaints_updated_at", "updated_at"),
    )


class ComplaintImage(Base):
    """An image attached to a complaint, re-encoded to PNG: nothing but pixels is stored."""

    __tablename__ = "complaint_images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sm3: Mapped[str] = mapped_column(String(64), nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        Index("ix_complaint_images_complaint", "complaint_id"),
        Index("ix_complaint_images_updated_at", "updated_at"),
    )


class ApiClient(Base):
    """数据交换接口的调用单位: a unit's client with its token (only the SHA-256 is kept), scopes and area."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(32), nullable=False)
    unit_name: Mapped[str] = mapped_column(String(128), nullable=False)
    unit_code: Mapped[str | None] = mapped_column(String(32), nullable=True)  # its sharing outbox, if any
    department: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the department it reports as
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    scopes: Mapped[str] = mapped_column(Text, nullable=False)  # space-separated
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

    __table_args__ = (
        UniqueConstraint("client_id", name="uq_api_clients_client"),
        Index("ix_api_clients_updated_at", "updated_at"),
    )
