"""The exchange API's registered clients (EX-6): one per calling unit, its scopes and area, and a
token of which only the SHA-256 is kept. The API (``api.exchange_api``) authenticates against them;
数据交换 lists them."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy.orm import Session

from jiuzhu import audit, departments, regions
from jiuzhu.business.models import ApiClient
from jiuzhu.errors import CodedError

SCOPES = {"batches:write": "报送数据批次", "batches:read": "查询报送回执", "verification:write": "提交委托核对",
          "verification:read": "查询核对结果", "sharing:read": "获取共享数据"}


class ClientError(CodedError):
    """A client that cannot be registered as asked."""


def new_client_id() -> str:
    """Twelve random hex digits that never read as a mobile or ID number (the audit trail refuses those)."""
    while True:
        client_id = secrets.token_hex(6)
        if not audit.looks_personal(client_id):
            return client_id


def create_client(session: Session, *, unit_name: str, region_code: str, scopes: list[str],
                  department: str | None = None, unit_code: str | None = None,
                  clock: audit.Clock = audit.utc_now) -> tuple[ApiClient, str]:
    """A new client and its token (shown once: only its SHA-256 is kept)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ClientError("SCOPE_UNKNOWN", f"未知的权限范围:{'、'.join(unknown)}")
    if department is not None:
        departments.get(department)  # a KeyError names an unknown department
    code = regions.normalise_code(region_code)
    client_id = new_client_id()
    secret = secrets.token_urlsafe(32)
    now = clock()
    client = ApiClient(client_id=client_id, unit_name=unit_name, unit_code=unit_code, department=department,
                       region_code=code, scopes=" ".join(sorted(set(scopes))),
                       token_sha256=hashlib.sha256(secret.encode()).hexdigest(), active=True, created_at=now,
                       updated_at=now)
    session.add(client)
    # One transaction: a client whose creation could not be audited is not created.
    audit.record(session, actor="system:api", action="api_client_created", outcome="success",
                 detail={"client": client_id, "unit": unit_name, "scopes": sorted(set(scopes))}, clock=clock)
    return client, f"{client_id}.{secret}"
