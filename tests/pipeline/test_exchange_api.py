"""The exchange API (EX-6) as a real server process on localhost, called with httpx: authentication
failures, scope violations, oversized and corrupt uploads, a full batch round trip to its receipt, a
verification request round trip, sharing extracts; every call audited; the published OpenAPI document
is the app's and validates."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from api import exchange_api
from exchange import clients as exchange_clients
from exchange import run
from jiuzhu import ids, regions, settings
from jiuzhu.business import db
from jiuzhu.business.models import ApiClient, AuditLog, VerificationRequest
from tests.pipeline.test_bad_inputs import csv_bytes, renshe_row
from tests.ui.browserkit import free_port

ROOT = Path(__file__).resolve().parents[2]
PERSON = ids.make("510104", dt.date(1980, 1, 1), 123)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("api-home")
    url = f"sqlite:///{home / 'business.sqlite'}"
    db.upgrade(url)
    env = {**os.environ, "JIUZHU_HOME": str(home), "JIUZHU_BUSINESS_DB_URL": url, "JIUZHU_LAKE": str(home / "lake"),
           "JIUZHU_API_MAX_FILE_MB": "1", "JIUZHU_ALLOW_DEMO_KEY": "1", "DO_NOT_TRACK": "1"}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.exchange_api:app", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("接口服务未能启动:" + (proc.stdout.read(2000) if proc.stdout else ""))
        yield base, home, db.session_factory(db.make_engine(url))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def clients(server):
    _, _, sessions = server
    made = {}
    with sessions() as s:
        for name, scopes, dept, unit_code in (
                ("renshe", ["batches:write", "batches:read"], "renshe", None),
                ("township", ["verification:write", "verification:read"], None, None),
                ("housing", ["sharing:read"], None, "cd_zhujian"),
                ("other", ["verification:read"], None, None)):
            _, token = exchange_clients.create_client(s, unit_name=f"{name}单位", region_code="510104000000",
                                                  scopes=scopes, department=dept, unit_code=unit_code)
            made[name] = token
    return made


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_authentication_failures_are_refused_in_json_and_audited(server, clients):
    base, _, sessions = server
    missing = httpx.get(f"{base}/v1/sharing/extracts")
    assert missing.status_code == 401 and missing.json()["code"] == "TOKEN_MISSING"
    client_id = clients["housing"].split(".")[0]
    wrong = httpx.get(f"{base}/v1/sharing/extracts", headers=_auth(f"{client_id}.not-the-secret"))
    assert wrong.status_code == 401 and wrong.json() == {"code": "TOKEN_INVALID", "message": "令牌无效或已停用"}
    with sessions() as s:
        s.execute(update(ApiClient).where(ApiClient.client_id == client_id).values(active=False))
        s.commit()
    try:
        stopped = httpx.get(f"{base}/v1/sharing/extracts", headers=_auth(clients["housing"]))
        assert stopped.status_code == 401
    finally:
        with sessions() as s:
            s.execute(update(ApiClient).where(ApiClient.client_id == client_id).values(active=True))
            s.commit()
    with sessions() as s:
        denied = s.scalars(select(AuditLog).where(AuditLog.action == "api_authenticate")).all()
    assert len(denied) >= 2 and all(e.outcome == "denied" for e in denied)


def test_scope_and_department_violations_are_forbidden(server, clients):
    base, _, _ = server
    body = b"id_number\n"
    no_scope = httpx.put(f"{base}/v1/batches/renshe/renshe-202501/files/a.csv", content=body,
                         headers={**_auth(clients["township"]), "X-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert no_scope.status_code == 403 and no_scope.json()["code"] == "SCOPE_MISSING"
    other_dept = httpx.put(f"{base}/v1/batches/shuiwu/shuiwu-202501/files/a.csv", content=body,
                           headers={**_auth(clients["renshe"]), "X-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert other_dept.status_code == 403 and other_dept.json()["code"] == "DEPARTMENT_MISMATCH"
    assert "renshe" in other_dept.json()["message"]


def test_oversized_and_corrupt_uploads_are_refused_and_nothing_is_staged(server, clients):
    base, home, _ = server
    big = b"x" * (2**20 + 10)
    too_big = httpx.put(f"{base}/v1/batches/renshe/renshe-202502/files/big.csv", content=big,
                        headers={**_auth(clients["renshe"]), "X-Content-SHA256": hashlib.sha256(big).hexdigest()})
    assert too_big.status_code == 413 and too_big.json()["code"] == "FILE_TOO_LARGE"
    data = csv_bytes([renshe_row()])
    corrupt = httpx.put(f"{base}/v1/batches/renshe/renshe-202502/files/renshe.csv", content=data[:-5] + b"XXXXX",
                        headers={**_auth(clients["renshe"]), "X-Content-SHA256": hashlib.sha256(data).hexdigest()})
    assert corrupt.status_code == 422 and corrupt.json()["code"] == "CHECKSUM_MISMATCH"
    bad_name = httpx.put(f"{base}/v1/batches/renshe/renshe-202502/files/..%2Fx.csv", content=data,
                         headers={**_auth(clients["renshe"]), "X-Content-SHA256": hashlib.sha256(data).hexdigest()})
    assert bad_name.status_code in (400, 404)
    staged = home / "api-staging" / "renshe" / "renshe-202502"
    assert not staged.exists() or not any(staged.iterdir())
    manifest = {"contract_version": "1.0", "period": "2025-02", "extract_date": "2025-03-01", "format": "csv",
                "encoding": "utf-8", "record_count": 1,
                "files": [{"name": "renshe.csv", "records": 1, "sha256": hashlib.sha256(data).hexdigest(),
                           "bytes": len(data)}]}
    unsent = httpx.post(f"{base}/v1/batches/renshe/renshe-202502", json=manifest, headers=_auth(clients["renshe"]))
    assert unsent.status_code == 422 and unsent.json()["code"] == "FILE_NOT_UPLOADED"


def test_a_batch_goes_from_upload_to_its_receipt(server, clients, monkeypatch):
    base, home, _ = server
    data = csv_bytes([renshe_row(), renshe_row(wage="abc")])  # one good row, one the contract rejects
    digest = hashlib.sha256(data).hexdigest()
    put = httpx.put(f"{base}/v1/batches/renshe/renshe-202501/files/renshe_202501.csv", content=data,
                    headers={**_auth(clients["renshe"]), "X-Content-SHA256": digest})
    assert put.status_code == 201 and put.json()["sha256"] == digest
    manifest = {"contract_version": "1.0", "period": "2025-01", "extract_date": "2025-02-01", "due_date": "2025-02-10",
                "format": "csv", "encoding": "utf-8", "record_count": 2,
                "files": [{"name": "renshe_202501.csv", "records": 2, "sha256": digest, "bytes": len(data)}]}
    posted = httpx.post(f"{base}/v1/batches/renshe/renshe-202501", json=manifest, headers=_auth(clients["renshe"]))
    assert posted.status_code == 202 and posted.json()["status"] == "queued"
    receipt_url = base + posted.json()["receipt"]
    waiting = httpx.get(receipt_url, headers=_auth(clients["renshe"]))
    assert waiting.status_code == 202 and waiting.json()["status"] == "pending"
    again = httpx.post(f"{base}/v1/batches/renshe/renshe-202501", json=manifest, headers=_auth(clients["renshe"]))
    assert again.status_code in (409, 422)
    # the ingestion takes it from the inbox as the inbox sensor would
    monkeypatch.setenv("JIUZHU_HOME", str(home))
    cfg = settings.load()
    run.run_department(cfg.inbox, home / "lake", home / "receipts", "renshe", today=dt.date(2025, 2, 9))
    receipt = httpx.get(receipt_url, headers=_auth(clients["renshe"]))
    assert receipt.status_code == 200, receipt.text
    body = receipt.json()
    assert body["batch_id"] == "renshe-202501" and body["status"] == "loaded"
    assert body["delivered"] == 2 and body["accepted"] == 1 and body["rejected"] == 1


def test_a_verification_request_round_trip(server, clients):
    base, _, sessions = server
    request = {"aid_item": "dibao", "purpose": "住房保障对象家庭经济状况核对", "authorisation_ref": "SQ-API-1",
               "region_code": min(r.code for r in regions.load().children("510104000000")), "members": [{"person_id": PERSON, "relation": "02"}]}
    made = httpx.post(f"{base}/v1/verification-requests", json=request, headers=_auth(clients["township"]))
    assert made.status_code == 201, made.text
    number = made.json()["request_no"]
    first = httpx.get(f"{base}/v1/verification-requests/{number}", headers=_auth(clients["township"]))
    assert first.status_code == 200 and first.json()["ready"] is False and first.json()["status"] == "submitted"
    outside = {**request, "region_code": min(r.code for r in regions.load().children("510105000000"))}
    refused = httpx.post(f"{base}/v1/verification-requests", json=outside, headers=_auth(clients["township"]))
    assert refused.status_code == 403 and refused.json()["code"] == "OUT_OF_JURISDICTION"
    # the centre verifies and reviews it (its own workflow is tested in test_verification_requests)
    result = {"profile": {"period": "2026-10"}, "reasons": [{"reason_zh": "家庭月人均收入低于当地低保标准"}]}
    with sessions() as s:
        s.execute(update(VerificationRequest).where(VerificationRequest.request_no == number).values(
            status="reviewed", assessment="符合", result_json=json.dumps(result, ensure_ascii=False)))
        s.commit()
    ready = httpx.get(f"{base}/v1/verification-requests/{number}", headers=_auth(clients["township"])).json()
    assert (ready["ready"], ready["assessment"], ready["reasons"]) == (True, "符合", ["家庭月人均收入低于当地低保标准"])
    stranger = httpx.get(f"{base}/v1/verification-requests/{number}", headers=_auth(clients["other"]))
    assert stranger.status_code == 404  # only the unit that asked sees its answer
    with sessions() as s:
        entries = s.scalars(select(AuditLog).where(AuditLog.actor.like("api:%"))).all()
    assert {e.action for e in entries} >= {"submit_verification", "view_verification_result"}
    assert all(PERSON not in (e.detail or "") for e in entries)


def test_sharing_extracts_are_listed_for_the_clients_unit_only(server, clients):
    base, home, _sessions = server
    folder = home / "outbox" / "cd_zhujian" / "zhujian_gongzufang" / "20261122T190000Z"
    folder.mkdir(parents=True)
    (folder / "zhujian_gongzufang.csv").write_text("person_id\n", "utf-8")
    manifest = {"agreement": "zhujian_gongzufang", "unit": "成都市住房和城乡建设局", "unit_code": "cd_zhujian",
                "purpose": "p", "legal_basis": "l", "dataset": "gold/monitoring/low_income_population",
                "dataset_version": 3, "period": "2026-10", "columns": [{"name": "person_id", "masking": "clear"}],
                "rows": 0, "file": "zhujian_gongzufang.csv", "format": "csv",
                "sha256": hashlib.sha256(b"person_id\n").hexdigest(), "generated_at": "2026-11-22T19:00:00+00:00"}
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    listed = httpx.get(f"{base}/v1/sharing/extracts", headers=_auth(clients["housing"]))
    assert listed.status_code == 200
    assert [(m["agreement"], m["intact"]) for m in listed.json()] == [("zhujian_gongzufang", True)]


def test_the_published_openapi_document_is_the_apps_and_validates():
    from openapi_spec_validator import validate

    published = json.loads((ROOT / "docs" / "exchange-api.json").read_text("utf-8"))
    assert published == json.loads(json.dumps(exchange_api.openapi_document()))
    validate(published)
    assert {"/v1/batches/{department}/{batch_id}/files/{name}", "/v1/verification-requests",
            "/v1/sharing/extracts"} <= set(published["paths"])
