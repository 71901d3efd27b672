"""The audit trail is tamper-evident (SC-3, M8): every edit, deletion, insertion, reordering and
truncation made directly in the database is caught by ``jiuzhu audit verify`` at the exact entry."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import bindparam, text

from jiuzhu import audit, cli
from jiuzhu.business.models import UtcDateTime

ENTRIES = 8
PSEUDONYM = "a3f1c2d4e5b60718293a4b5c6d7e8f90"


@pytest.fixture
def trail(session, clock):
    """Eight entries of assorted kinds, one second apart."""
    kinds = [
        dict(
            actor="hedui01",
            role="verification_officer",
            action="view_person",
            outcome="allowed",
            subject_key=PSEUDONYM,
            region_code="510104017000",
            purpose="低保复核",
        ),
        dict(
            actor="fenxi01",
            role="analyst",
            action="view_person",
            outcome="denied",
            region_code="510104017000",
            purpose="好奇",
            detail={"code": "ROLE_NOT_PERMITTED"},
        ),
        dict(
            actor="shenji01", role="audit_admin", action="login", outcome="success", detail={"reason": "ok"}
        ),
        dict(
            actor="jingban01",
            role="case_worker",
            action="accept_application",
            outcome="allowed",
            subject_key=PSEUDONYM,
            region_code="510104017000",
            purpose="一门受理",
        ),
    ]
    for i in range(ENTRIES):
        audit.append(session, clock=clock, **kinds[i % len(kinds)])
        clock.advance(seconds=1)
    session.commit()
    return session


def run_verify(url: str, home) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli.main, ["audit", "verify"], env={"JIUZHU_BUSINESS_DB_URL": url, "JIUZHU_HOME": str(home)}
    )
    return result.exit_code, result.output


def row(engine, seq: int) -> dict:
    with engine.connect() as conn:
        found = (
            conn.execute(
                text("SELECT * FROM audit_log WHERE seq = :seq").columns(at=UtcDateTime()), {"seq": seq}
            )
            .mappings()
            .one()
        )
    return dict(found)


def raw(engine, statement: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def insert_raw(engine, fields: dict) -> None:
    statement = text(
        "INSERT INTO audit_log (seq, at, actor, role, action, subject_key, region_code, purpose, outcome,"
        " detail, prev_hash, entry_hash, updated_at) VALUES (:seq, :at, :actor, :role, :action, :subject_key,"
        " :region_code, :purpose, :outcome, :detail, :prev_hash, :entry_hash, :at)"
    ).bindparams(bindparam("at", type_=UtcDateTime()))
    with engine.begin() as conn:
        conn.execute(statement, fields)


def forged(engine, seq: int, prev_hash: str, *, valid_hash: bool) -> dict:
    fields = {k: v for k, v in row(engine, 3).items() if k in audit.HASHED_FIELDS}
    fields.update(seq=seq, prev_hash=prev_hash, purpose="伪造的记录")
    fields["entry_hash"] = audit.compute_hash(fields) if valid_hash else "f" * 64
    return fields


def shift_up_from(engine, seq: int) -> None:
    """Renumber entries >= seq one up, in two steps so no unique-constraint check trips midway."""
    raw(engine, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= :seq", seq=seq)
    raw(engine, "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")


def alter(engine):
    raw(engine, "UPDATE audit_log SET purpose = :p WHERE seq = 4", p="改写后的事由")
    return 4


def alter_and_rehash(engine):
    fields = {k: v for k, v in row(engine, 4).items() if k in audit.HASHED_FIELDS}
    fields["actor"] = "someone_else"
    raw(
        engine,
        "UPDATE audit_log SET actor = :a, entry_hash = :h WHERE seq = 4",
        a="someone_else",
        h=audit.compute_hash(fields),
    )
    return 4


def edit_outcome(engine):
    raw(engine, "UPDATE audit_log SET outcome = 'allowed' WHERE seq = 2")
    return 2


def backdate(engine):
    moved = row(engine, 6)["at"] - timedelta(hours=3)
    statement = text("UPDATE audit_log SET at = :at WHERE seq = 6").bindparams(
        bindparam("at", type_=UtcDateTime())
    )
    with engine.begin() as conn:
        conn.execute(statement, {"at": moved})
    return 6


def delete_middle(engine):
    raw(engine, "DELETE FROM audit_log WHERE seq = 5")
    return 5


def delete_and_renumber(engine):
    raw(engine, "DELETE FROM audit_log WHERE seq = 5")
    raw(engine, "UPDATE audit_log SET seq = seq + 1000 WHERE seq > 5")
    raw(engine, "UPDATE audit_log SET seq = seq - 1001 WHERE seq > 1000")
    return 5


def delete_first(engine):
    raw(engine, "DELETE FROM audit_log WHERE seq = 1")
    return 1


def insert_with_valid_hash(engine):
    prev = row(engine, 3)["entry_hash"]
    shift_up_from(engine, 4)
    insert_raw(engine, forged(engine, 4, prev, valid_hash=True))
    return 4


def insert_with_bogus_hash(engine):
    prev = row(engine, 5)["entry_hash"]
    shift_up_from(engine, 6)
    insert_raw(engine, forged(engine, 6, prev, valid_hash=False))
    return 6


def append_forged_tail(engine):
    insert_raw(engine, forged(engine, ENTRIES + 1, row(engine, ENTRIES)["entry_hash"], valid_hash=False))
    return ENTRIES + 1


def swap_entries(engine):
    raw(engine, "UPDATE audit_log SET seq = -3 WHERE seq = 3")
    raw(engine, "UPDATE audit_log SET seq = 3 WHERE seq = 6")
    raw(engine, "UPDATE audit_log SET seq = 6 WHERE seq = -3")
    return 3


def swap_neighbours(engine):
    raw(engine, "UPDATE audit_log SET seq = -7 WHERE seq = 7")
    raw(engine, "UPDATE audit_log SET seq = 7 WHERE seq = 8")
    raw(engine, "UPDATE audit_log SET seq = 8 WHERE seq = -7")
    return 7


def edit_prev_hash(engine):
    raw(engine, "UPDATE audit_log SET prev_hash = :h WHERE seq = 6", h="0" * 64)
    return 6


TAMPERING = {
    "edited field": alter,
    "edited field with a recomputed hash": alter_and_rehash,
    "denial turned into an allowance": edit_outcome,
    "backdated entry": backdate,
    "deleted entry": delete_middle,
    "deleted entry, later ones renumbered": delete_and_renumber,
    "deleted first entry": delete_first,
    "inserted entry with a valid hash": insert_with_valid_hash,
    "inserted entry with a bogus hash": insert_with_bogus_hash,
    "appended forged entry": append_forged_tail,
    "reordered entries": swap_entries,
    "reordered neighbours": swap_neighbours,
    "edited link": edit_prev_hash,
}


def test_an_untouched_trail_verifies(trail, business_url, tmp_path):
    code, output = run_verify(business_url, tmp_path / "home")
    assert code == 0, output
    assert "审计链完整:共8条记录" in output


@pytest.mark.parametrize("how", list(TAMPERING))
def test_verify_names_the_first_tampered_entry(trail, engine, business_url, tmp_path, how):
    trail.close()
    broken_seq = TAMPERING[how](engine)
    code, output = run_verify(business_url, tmp_path / "home")
    assert code == 1, output
    assert f"审计链被破坏:第{broken_seq}条记录" in output, output
    with engine.connect() as conn:
        from sqlalchemy.orm import Session

        result = audit.verify(Session(conn))
    assert (result.ok, result.first_broken_seq) == (False, broken_seq)
    assert result.problem_zh


def test_a_cut_off_tail_is_caught_by_the_anchored_head(trail, engine, business_url, tmp_path):
    home = tmp_path / "home"
    audit.anchor_head(trail, home / "audit_head.json")
    trail.close()
    raw(engine, "DELETE FROM audit_log WHERE seq >= 7")
    code, output = run_verify(business_url, home)
    assert code == 1, output
    assert "第7条记录" in output and "截断" in output


def test_a_tail_cut_off_and_regrown_is_caught_by_the_anchored_head(
    trail, engine, business_url, tmp_path, clock
):
    home = tmp_path / "home"
    audit.anchor_head(trail, home / "audit_head.json")
    raw(engine, "DELETE FROM audit_log WHERE seq >= 7")
    for _ in range(3):
        audit.append(trail, actor="x", action="login", outcome="failure", clock=clock)
    trail.commit()
    trail.close()
    code, output = run_verify(business_url, home)
    assert code == 1, output
    assert f"第{ENTRIES}条记录" in output and "锚定" in output


def test_a_chain_recomputed_from_some_entry_on_is_caught_by_the_anchor(trail, engine, business_url, tmp_path):
    home = tmp_path / "home"
    audit.anchor_head(trail, home / "audit_head.json")
    trail.close()
    prev = row(engine, 3)["entry_hash"]
    for seq in range(4, ENTRIES + 1):
        fields = {k: v for k, v in row(engine, seq).items() if k in audit.HASHED_FIELDS}
        fields.update(prev_hash=prev, purpose="整体重写" if seq == 4 else fields["purpose"])
        prev = audit.compute_hash(fields)
        raw(
            engine,
            "UPDATE audit_log SET purpose = :p, prev_hash = :ph, entry_hash = :h WHERE seq = :s",
            p=fields["purpose"],
            ph=fields["prev_hash"],
            h=prev,
            s=seq,
        )
    code, output = run_verify(business_url, home)
    assert code == 1, output
    assert f"第{ENTRIES}条记录" in output and "锚定" in output


def test_the_anchor_accepts_entries_appended_after_it(trail, business_url, tmp_path, clock):
    home = tmp_path / "home"
    audit.anchor_head(trail, home / "audit_head.json")
    audit.append(trail, actor="x", action="login", outcome="success", clock=clock)
    trail.commit()
    code, output = run_verify(business_url, home)
    assert code == 0, output
    assert f"共{ENTRIES + 1}条记录" in output


def test_cli_anchor_writes_the_head_where_verify_reads_it(trail, business_url, tmp_path):
    home = tmp_path / "home"
    env = {"JIUZHU_BUSINESS_DB_URL": business_url, "JIUZHU_HOME": str(home)}
    result = CliRunner().invoke(cli.main, ["audit", "anchor"], env=env)
    assert result.exit_code == 0, result.output
    anchored = json.loads((home / "audit_head.json").read_text("utf-8"))
    assert anchored["seq"] == ENTRIES
    assert anchored["entry_hash"] == audit.head(trail)[1]


def test_the_first_entry_links_to_the_genesis_and_hashes_are_sm3(trail):
    first = audit.verify(trail)
    assert first.ok and first.count == ENTRIES
    entries = trail.execute(text("SELECT seq, prev_hash, entry_hash FROM audit_log ORDER BY seq")).all()
    assert entries[0].prev_hash == "0" * 64
    assert all(len(e.entry_hash) == 64 for e in entries)
    assert all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:], strict=False))


def test_timestamps_come_from_the_injected_clock_in_utc(session, clock):
    entry = audit.append(session, actor="x", action="login", outcome="success", clock=clock)
    session.commit()
    session.expire_all()
    stored = row(session.get_bind(), entry.seq)["at"]
    assert stored == clock.now and stored.utcoffset() == timedelta(0)


def test_audit_entries_refuse_personal_data_in_their_detail(session, clock):
    for detail in ({"id": "51010419900307123X"}, {"phone": "13812341234"}, {"card": "6222021234567890123"}):
        with pytest.raises(ValueError, match="不得包含"):
            audit.append(
                session, actor="x", action="view_person", outcome="allowed", detail=detail, clock=clock
            )
        session.rollback()


def test_an_api_client_id_that_reads_as_a_mobile_number_is_drawn_again(session, clock, monkeypatch):
    """A random client ID once came out as 18278218707b: the audit trail refused it as a mobile number
    and the client could not be registered. Generated IDs are drawn until they read as no personal data."""
    from exchange import clients
    from jiuzhu.business.models import ApiClient

    assert audit.looks_personal("18278218707b")
    draws = iter(["18278218707b", "b13912345678", "a1b2c3d4e5f6"])
    monkeypatch.setattr(clients.secrets, "token_hex", lambda n: next(draws))
    client, token = clients.create_client(session, unit_name="住建局(测试)", region_code="510104000000",
                                          scopes=["sharing:read"], clock=clock)
    assert client.client_id == "a1b2c3d4e5f6" and token.startswith("a1b2c3d4e5f6.")
    entry = session.query(audit.AuditLog).filter_by(action="api_client_created").one()
    assert json.loads(entry.detail)["client"] == "a1b2c3d4e5f6"
    assert session.query(ApiClient).count() == 1


def test_a_client_whose_creation_cannot_be_audited_is_not_created(session, clock, monkeypatch):
    from exchange import clients
    from jiuzhu.business.models import ApiClient

    with pytest.raises(audit.AuditUnavailable):
        # a unit name with a mobile number in it: the audit entry is refused, and so is the client
        clients.create_client(session, unit_name="住建局13812341234", region_code="510104000000",
                              scopes=["sharing:read"], clock=clock)
    assert session.query(ApiClient).count() == 0


# --- export ------------------------------------------------------------------------------------------

HOSTILE_PURPOSES = [
    '=HYPERLINK("http://x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tcmd",
    "\rcmd",
    "\ncmd",
    "＝1+1",
    "＋1",
    "－1",
    "＠x",
]


def test_csv_export_has_a_bom_and_neutralises_every_formula_cell(session, clock, tmp_path):
    for purpose in HOSTILE_PURPOSES:
        audit.append(
            session,
            actor="hedui01",
            action="view_person",
            outcome="allowed",
            purpose=purpose,
            region_code="510104017000",
            clock=clock,
        )
        clock.advance(seconds=1)
    session.commit()
    out = tmp_path / "audit.csv"
    assert audit.export(session, out, "csv") == len(HOSTILE_PURPOSES)
    raw_bytes = out.read_bytes()
    assert raw_bytes.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw_bytes.decode("utf-8-sig").splitlines(keepends=True)))
    assert [r["purpose"] for r in rows] == ["'" + p for p in HOSTILE_PURPOSES]
    assert [r["seq"] for r in rows] == [
        str(i) for i in range(1, len(HOSTILE_PURPOSES) + 1)
    ]  # numbers stay numbers
    for r in rows:
        for name, value in r.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")), (
                name,
                value,
            )


def test_jsonl_export_keeps_every_entry_verbatim(trail, tmp_path):
    out = tmp_path / "audit.jsonl"
    assert audit.export(trail, out, "jsonl") == ENTRIES
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, ENTRIES + 1))
    assert lines[0]["purpose"] == "低保复核" and lines[0]["at"].endswith("Z")


def test_cli_export_is_for_the_audit_administrator_only(session, business_url, tmp_path, clock):
    from jiuzhu import auth

    auth.create_user(
        session,
        "shenji_t",
        "审计管理员",
        "audit_admin",
        "510000000000",
        "Sj-2025!audit",
        must_change_password=False,
        clock=clock,
    )
    auth.create_user(
        session,
        "xitong_t",
        "系统管理员",
        "system_admin",
        "510000000000",
        "Xt-2025!system",
        must_change_password=False,
        clock=clock,
    )
    session.close()
    env = {"JIUZHU_BUSINESS_DB_URL": business_url, "JIUZHU_HOME": str(tmp_path / "home")}
    out = tmp_path / "export.csv"
    runner = CliRunner()
    denied = runner.invoke(
        cli.main,
        ["audit", "export", "--out", str(out), "--user", "xitong_t"],
        input="Xt-2025!system\n",
        env=env,
    )
    assert (
        denied.exit_code == 1
        and "拒绝导出" in denied.output
        and "系统管理员无权导出审计日志" in denied.output
    )
    assert not out.exists()
    wrong = runner.invoke(
        cli.main,
        ["audit", "export", "--out", str(out), "--user", "shenji_t"],
        input="not-the-password\n",
        env=env,
    )
    assert wrong.exit_code == 1 and "用户名或密码错误" in wrong.output
    done = runner.invoke(
        cli.main,
        ["audit", "export", "--out", str(out), "--user", "shenji_t"],
        input="Sj-2025!audit\n",
        env=env,
    )
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(out.read_text("utf-8-sig").splitlines(keepends=True)))
    assert rows[-1]["action"] == "export_audit" and rows[-1]["outcome"] == "allowed"
    assert any(
        r["action"] == "export_audit" and r["outcome"] == "denied" and r["actor"] == "xitong_t" for r in rows
    )


def test_concurrent_appenders_never_fork_or_break_the_chain(engine):
    from concurrent.futures import ThreadPoolExecutor

    from jiuzhu.business import db

    factory = db.session_factory(engine)

    def writer(n: int) -> None:
        with factory() as session:
            for _ in range(15):
                audit.record(session, actor=f"writer{n}", action="view_aggregate", outcome="allowed")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(writer, range(4)))
    with factory() as session:
        result = audit.verify(session)
    assert result.ok and result.count == 60, result
