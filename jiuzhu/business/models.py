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
