"""一门受理 → 待办事项 → 档案管理 in the staff app: a township window takes in an urgent temporary-aid
application (materials checked, acceptance number given), the township's approver finds it in the
todo list and approves it, the archive shows the materials and the decision intact; a wrong or
missing material is refused in Chinese before anything is written."""

from __future__ import annotations

import re

from sqlalchemy import select

from jiuzhu import ids
from jiuzhu.business.models import AssistanceCase, AuditLog, DisbursementOrder
from tests.ui.staffkit import login, texts

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ITEM = "temporary_urgent"


def _person(seq: int) -> str:
    body = f"51010419750505{seq:03d}"
    return body + ids.check_char(body)


def _open(username: str, page: str):
    at = login(username)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _fill(at, person: str, *, files: int):
    at.selectbox(key="accept_item").set_value(ITEM).run()
    at.text_input(key="accept_name_0").input("王桂兰")
    at.text_input(key="accept_id_0").input(person)
    for j in range(files):
        at.file_uploader(key=f"accept_file_{ITEM}_{j}").upload(f"scan{j}.pdf", PDF, "application/pdf")
    at.run()
    assert not at.exception, at.exception


def test_a_window_accepts_the_township_approves_and_the_archive_holds_it(staff, monkeypatch):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    at = _open("jingban01", "views/acceptance.py")
    _fill(at, _person(1), files=1)  # the second required material is missing
    at.button(key="accept_submit").click().run()
    assert any("缺少必备材料" in e for e in texts(at.error))
    _fill(at, _person(1), files=2)
    at.button(key="accept_submit").click().run()
    assert not at.error, texts(at.error)
    number = re.search(r"受理编号:(SL\d+)", " ".join(texts(at.success))).group(1)

    at = _open("shenhe01", "views/tasks.py")
    todo = at.dataframe[0].value
    row = todo[todo["受理编号"] == number]
    assert list(row["环节"]) == ["乡镇审批"] and list(row["时限"]) == ["正常"]
    at.text_input(key="tasks_case").input(number).run()
    assert not at.exception, at.exception
    assert any("王桂兰" in str(df.value.to_dict()) for df in at.dataframe)  # the family, for the approver
    at.number_input(key="tasks_amount").set_value(1500.0).run()
    at.text_area(key="tasks_note").input("突发疾病,先行救助").run()
    at.button(key="tasks_pass").click().run()
    assert not at.exception and not at.error, texts(at.error)
    with staff.sessions() as s:
        case = s.scalar(select(AssistanceCase).where(AssistanceCase.acceptance_no == number))
        assert case.approved_amount == 1500.0 and case.current_step == "disburse"
        assert s.scalar(select(DisbursementOrder.amount).where(DisbursementOrder.case_id == case.id)) == 1500.0
        reads = s.scalars(select(AuditLog).where(AuditLog.actor == "shenhe01", AuditLog.action == "view_person")).all()
        assert reads and all(_person(1) not in (e.detail + (e.purpose or "")) for e in reads)

    at = _open("jingban01", "views/archives.py")
    at.text_input(key="archives_no").input(number)
    at.button(key="archives_search").click().run()
    assert any("须说明事由" in e for e in texts(at.error))  # reading an archive needs a purpose
    at.text_input(key="archives_purpose").input("核查临时救助档案").run()
    at.button(key="archives_search").click().run()
    hits = at.dataframe[0].value
    assert sorted(hits["类别"]) == ["审批决定", "申请材料", "申请材料"]
    at.selectbox(key="archives_open").set_value(hits["档案号"].iloc[0]).run()
    assert any("档案完整" in s for s in texts(at.success)), (texts(at.error), texts(at.info), at.exception)


def test_the_case_pages_are_not_offered_to_a_role_without_case_handling(staff):
    import pytest

    at = login("hedui01")  # a verification officer works in 核对工作台, not on the case steps
    for page in ("views/acceptance.py", "views/tasks.py", "views/archives.py"):
        with pytest.raises(ValueError):
            at.switch_page(page)


def test_a_worker_files_a_relative_whose_application_is_then_marked_for_a_home_visit(staff, monkeypatch):
    monkeypatch.setenv("JIUZHU_ALLOW_DEMO_KEY", "1")
    relative = _person(7)
    at = _open("jingban01", "views/tasks.py")
    at.text_input(key="tasks_relative_id").input(relative[:-1] + ("0" if relative[-1] != "0" else "1"))
    at.button(key="tasks_relative_file").click().run()
    assert any("身份证" in e for e in texts(at.error))  # a wrong check digit
    at.text_input(key="tasks_relative_id").input(relative)
    at.button(key="tasks_relative_file").click().run()
    assert not at.error, texts(at.error)
    at = _open("jingban01", "views/acceptance.py")
    _fill(at, relative, files=2)
    at.button(key="accept_submit").click().run()
    number = re.search(r"受理编号:(SL\d+)", " ".join(texts(at.success))).group(1)
    at = _open("shenhe01", "views/tasks.py")
    at.text_input(key="tasks_case").input(number).run()
    assert any("须入户调查" in w for w in texts(at.warning))
