"""数据交换接口 — the exchange API (EX-6), FastAPI, for units that call rather than drop files.

``uvicorn api.exchange_api:app`` (``jiuzhu api serve``; ``make demo`` serves it on 127.0.0.1:8600).
Every call carries ``Authorization: Bearer <client_id>.<secret>``: the client is looked up, the
secret checked against its SHA-256 (the secret itself is never stored), the client must be active,
and each call is limited to ``RATE_PER_MINUTE``. Scopes narrow what a client may do; the access
matrix (role ``exchange_client``) and the client's area narrow it again. Every call is audited
(``api_*`` actions, the client as actor, no personal data). Errors are JSON:
``{"code": "TOKEN_INVALID", "message": "令牌无效或已停用"}`` — English codes, Chinese messages.

- ``PUT /v1/batches/{department}/{batch_id}/files/{name}``: a file of the batch, streamed to a
  staging folder with its size limited and its SHA-256 (header ``X-Content-SHA256``) checked;
- ``POST /v1/batches/{department}/{batch_id}``: the manifest; every staged file must be there with
  the declared checksum; the batch then moves into the inbox as one folder, where the ingestion
  (the inbox sensor, or ``jiuzhu exchange run``) takes it like any delivered batch;
- ``GET /v1/batches/{department}/{batch_id}/receipt``: the receipt (回执) once ingested, else 202;
- ``POST /v1/verification-requests`` / ``GET /v1/verification-requests/{request_no}``: a
  commissioning unit's verification request and its result when the centre has reviewed it;
- ``GET /v1/sharing/extracts``: the extracts made for the client's unit under its agreements.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange import sharing
from exchange.clients import SCOPES
from jiuzhu import access, audit, departments, ratelimit, settings
from jiuzhu.business import db
from jiuzhu.business.models import ApiClient, VerificationReport
from jiuzhu.errors import CodedError
from verification import requests as vr

RATE_PER_MINUTE = 120
_NAME = re.compile(r"^[A-Za-z0-9_\-.]{1,96}\.(csv|xlsx|jsonl|parquet|zip)$")
_BATCH = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def max_file_bytes() -> int:
    return int(os.environ.get("JIUZHU_API_MAX_FILE_MB", "256")) * 2**20


class ApiError(CodedError):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(code, message)
        self.status = status


@dataclass(frozen=True)
class ApiPrincipal:
    """A calling unit as the access checks see it."""

    client: str
    unit_name: str
    unit_code: str | None
    department: str | None
    jurisdiction_code: str
    scopes: frozenset[str]
    role: str = access.EXCHANGE_CLIENT

    @property
    def username(self) -> str:
        return f"api:{self.client}"


# --- plumbing ------------------------------------------------------------------------------------------------

_FACTORIES: dict[str, object] = {}


def _sessions():
    url = db.default_url()
    if url not in _FACTORIES:
        db.upgrade(url)
        _FACTORIES[url] = db.session_factory(db.make_engine(url))
    return _FACTORIES[url]


def session_dep():
    with _sessions()() as session:
        yield session


def principal_dep(session: Annotated[Session, Depends(session_dep)],
                  authorization: Annotated[str | None, Header()] = None) -> ApiPrincipal:
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(401, "TOKEN_MISSING", "缺少访问令牌(Authorization: Bearer <令牌>)")
    token = authorization.removeprefix("Bearer ").strip()
    client_id, _, secret = token.partition(".")
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id)) if client_id else None
    expected = client.token_sha256 if client is not None else "0" * 64
    given = hashlib.sha256(secret.encode()).hexdigest()
    if client is None or not hmac.compare_digest(expected, given) or not client.active:
        audit.record(session, actor=f"api:{client_id[:12] or '-'}", action="api_authenticate", outcome="denied",
                     detail={"reason": "token_invalid"})
        raise ApiError(401, "TOKEN_INVALID", "令牌无效或已停用")
    if not ratelimit.allow(session, "api", client.client_id, RATE_PER_MINUTE, 1):
        raise ApiError(429, "RATE_LIMITED", f"调用过于频繁:每分钟最多{RATE_PER_MINUTE}次")
    client.last_used_at = client.updated_at = audit.utc_now()
    session.commit()
    return ApiPrincipal(client.client_id, client.unit_name, client.unit_code, client.department, client.region_code,
                        frozenset(client.scopes.split()))


Principal = Annotated[ApiPrincipal, Depends(principal_dep)]
Db = Annotated[Session, Depends(session_dep)]


def _scope(who: ApiPrincipal, scope: str) -> None:
    if scope not in who.scopes:
        raise ApiError(403, "SCOPE_MISSING", f"该令牌无“{SCOPES[scope]}”权限({scope})")


def _allowed(session: Session, who: ApiPrincipal, action: str, region_code: str, purpose: str, detail: dict) -> None:
    try:
        access.authorize_and_audit(session, who, action, region_code, None, purpose=purpose, detail=detail)
    except access.AccessDenied as exc:
        raise ApiError(403, exc.code, exc.message_zh) from None


def _department(who: ApiPrincipal, department: str) -> None:
    if who.department != department:
        raise ApiError(403, "DEPARTMENT_MISMATCH", f"该令牌只能报送{who.department or '(未指定单位)'}的数据")
    if not _BATCH.match(department):
        raise ApiError(400, "DEPARTMENT_INVALID", "单位代码无效")


def _staging(department: str, batch_id: str) -> Path:
    if not _BATCH.match(batch_id):
        raise ApiError(400, "BATCH_ID_INVALID", "批次号只能由字母、数字、下划线和连字符组成(至多64位)")
    return settings.load().home / "api-staging" / department / batch_id


# --- the app -------------------------------------------------------------------------------------------------

app = FastAPI(title="四川省社会救助综合服务平台 数据交换接口", version="1.0.0",
              description="共享单位报送数据批次、查询回执;委托单位提交核对申请、查询结果;获取按协议共享的数据。"
                          "错误以 JSON 返回:英文代码 code 与中文说明 message。")


@app.exception_handler(ApiError)
async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)


@app.exception_handler(vr.RequestError)
async def _request_error(request: Request, exc: vr.RequestError) -> JSONResponse:
    return JSONResponse({"code": exc.code, "message": exc.message}, status_code=422)


class FileEntry(BaseModel):
    name: str
    records: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


class BatchManifest(BaseModel):
    contract_version: str
    period: str = Field(pattern=r"^\d{4}-\d{2}$")
    extract_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    due_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    format: str
    encoding: str | None = None
    amount_unit: str | None = None
    record_count: int = Field(ge=0)
    files: list[FileEntry] = Field(min_length=1)


class Accepted(BaseModel):
    batch_id: str
    status: str
    receipt: str


@app.put("/v1/batches/{department}/{batch_id}/files/{name}", status_code=201, tags=["报送"])
async def put_file(department: str, batch_id: str, name: str, request: Request, who: Principal, session: Db,
                   x_content_sha256: Annotated[str | None, Header()] = None) -> dict:
    """One file of a batch, streamed to staging: its size limited, its SHA-256 checked."""
    _scope(who, "batches:write")
    _department(who, department)
    if not _NAME.match(name) or ".." in name:
        raise ApiError(400, "FILE_NAME_INVALID", "文件名只能含字母、数字、下划线、连字符和点,扩展名为csv、xlsx、jsonl、parquet或zip")
    if not x_content_sha256 or not re.fullmatch(r"[0-9a-f]{64}", x_content_sha256):
        raise ApiError(400, "CHECKSUM_MISSING", "请在 X-Content-SHA256 中给出文件的SHA-256(64位小写十六进制)")
    _allowed(session, who, "submit_batch", who.jurisdiction_code, f"接口报送{department}批次文件",
             {"department": department, "batch_id": batch_id, "file": name})
    folder = _staging(department, batch_id)
    folder.mkdir(parents=True, exist_ok=True)
    target, partial = folder / name, folder / f".{name}.part"
    digest, size, limit = hashlib.sha256(), 0, max_file_bytes()
    try:
        with partial.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, "FILE_TOO_LARGE", f"文件超过{limit // 2**20}MB的上限")
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != x_content_sha256:
            raise ApiError(422, "CHECKSUM_MISMATCH", "收到的文件与声明的SHA-256不一致:传输中损坏或声明有误,请重新上传")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return {"name": name, "bytes": size, "sha256": x_content_sha256}


@app.post("/v1/batches/{department}/{batch_id}", status_code=202, response_model=Accepted, tags=["报送"])
def post_manifest(department: str, batch_id: str, manifest: BatchManifest, who: Principal, session: Db) -> Accepted:
    """The batch's manifest: the staged files are checked against it, then the batch enters the inbox."""
    _scope(who, "batches:write")
    _department(who, department)
    folder = _staging(department, batch_id)
    for entry in manifest.files:
        staged = folder / entry.name
        if not staged.exists():
            raise ApiError(422, "FILE_NOT_UPLOADED", f"清单中的文件{entry.name}尚未上传")
        if hashlib.sha256(staged.read_bytes()).hexdigest() != entry.sha256 or staged.stat().st_size != entry.bytes:
            raise ApiError(422, "FILE_MISMATCH", f"文件{entry.name}与清单声明的校验值或大小不一致")
    inbox = settings.load().inbox / department / batch_id
    if inbox.exists():
        raise ApiError(409, "BATCH_EXISTS", f"批次{batch_id}已报送;更正数据请使用新的批次号")
    _allowed(session, who, "submit_batch", who.jurisdiction_code, f"接口报送{department}批次",
             {"department": department, "batch_id": batch_id, "files": len(manifest.files),
              "records": manifest.record_count})
    dept = departments.get(department)
    body = {"department": department, "department_name": dept.name, "batch_id": batch_id,
            **manifest.model_dump(), "delivered_at": _dt.datetime.now(_dt.UTC).isoformat(), "channel": "api"}
    (folder / "manifest.json").write_text(json.dumps(body, ensure_ascii=False, indent=2), "utf-8")
    inbox.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), str(inbox))  # one folder: the sensor never sees half a batch
    return Accepted(batch_id=batch_id, status="queued", receipt=f"/v1/batches/{department}/{batch_id}/receipt")


@app.get("/v1/batches/{department}/{batch_id}/receipt", tags=["报送"])
def get_receipt(department: str, batch_id: str, who: Principal, session: Db):
    """The receipt once the batch was ingested (200), or 202 while it waits."""
    _scope(who, "batches:read")
    _department(who, department)
    _allowed(session, who, "submit_batch", who.jurisdiction_code, f"查询{department}批次回执",
             {"department": department, "batch_id": batch_id})
    folder = settings.load().home / "receipts" / department
    found = sorted(folder.glob(f"{batch_id}__*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    if not found:
        return JSONResponse({"batch_id": batch_id, "status": "pending", "message": "批次已进入收件箱,尚未入库"},
                            status_code=202)
    return json.loads(found[-1].read_text("utf-8"))


class MemberIn(BaseModel):
    person_id: str
    relation: str | None = None
    region_code: str | None = None


class VerificationIn(BaseModel):
    aid_item: str
    purpose: str = Field(min_length=2)
    authorisation_ref: str = Field(min_length=1)
    region_code: str
    members: list[MemberIn] = Field(min_length=1)


@app.post("/v1/verification-requests", status_code=201, tags=["核对"])
def post_verification(body: VerificationIn, who: Principal, session: Db) -> dict:
    """委托核对: submitted on behalf of the client's unit, authorised and audited like any request."""
    _scope(who, "verification:write")
    try:
        made = vr.submit(session, who, commissioning_unit=who.unit_name, aid_item=body.aid_item, purpose=body.purpose,
                         authorisation_ref=body.authorisation_ref, region_code=body.region_code,
                         members=[vr.MemberInput(m.person_id, m.relation, m.region_code) for m in body.members])
    except access.AccessDenied as exc:
        raise ApiError(403, exc.code, exc.message_zh) from None
    return {"request_no": made.request_no, "status": made.status,
            "result": f"/v1/verification-requests/{made.request_no}"}


@app.get("/v1/verification-requests/{request_no}", tags=["核对"])
def get_verification(request_no: str, who: Principal, session: Db) -> dict:
    """The request's status, and its result once reviewed: the assessment, its reasons, the report."""
    _scope(who, "verification:read")
    try:
        request = vr.get(session, request_no)
    except vr.RequestError:
        request = None
    if request is None or request.submitted_by != who.username:
        raise ApiError(404, "REQUEST_NOT_FOUND", "没有该核对申请,或不是本单位提交的")
    _allowed(session, who, "view_verification_result", request.region_code, f"查询核对结果{request_no}",
             {"request_no": request_no})
    ready = request.status in ("reviewed", "reported")
    out = {"request_no": request.request_no, "status": request.status, "ready": ready,
           "status_zh": vr.STATUS_ZH.get(request.status, request.status)}
    if request.status == "rejected":
        out["rejection_reason"] = request.rejection_reason
    if ready:
        stored = json.loads(request.result_json or "{}")
        out["assessment"] = request.assessment
        out["period"] = (stored.get("profile") or {}).get("period")
        out["reasons"] = [r.get("reason_zh") or r.get("rule") for r in stored.get("reasons") or []]
        report = session.scalar(select(VerificationReport).where(VerificationReport.request_id == request.id))
        if report is not None:
            out["report"] = {"report_no": report.report_no, "file_sm3": report.file_sm3,
                             "issued_at": report.issued_at.isoformat()}
    return out


@app.get("/v1/sharing/extracts", tags=["共享"])
def get_extracts(who: Principal, session: Db) -> list[dict]:
    """The extracts made for the client's unit (manifests: agreement, columns and masking, rows, checksum)."""
    _scope(who, "sharing:read")
    _allowed(session, who, "view_sharing", who.jurisdiction_code, "查看共享数据清单", {"unit_code": who.unit_code})
    mine = [m for m in sharing.extracts(sharing.outbox_root(settings.load().home)) if m["unit_code"] == who.unit_code]
    return [{k: m[k] for k in ("agreement", "run", "dataset", "period", "columns", "rows", "file", "format", "sha256",
                               "generated_at", "intact")} for m in mine]


def openapi_document() -> dict:
    """The OpenAPI document published in docs/exchange-api.json."""
    return app.openapi()
