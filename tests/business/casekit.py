"""Shared pieces of the case tests: staff of one township and its county, and scanned materials."""

from __future__ import annotations

from assistance import cases, catalogue
from jiuzhu import access, auth, regions

JINJIANG = "510104000000"  # 锦江区
QINGYANG = "510105000000"  # 青羊区
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def township_of(county: str, index: int = 0) -> str:
    return sorted(r.code for r in regions.load().children(county))[index]


def staff(session, clock, county: str = JINJIANG, township: str | None = None) -> dict:
    """A case worker and an approver at the township, approvers, verification officers and a
    finance officer at the county: the offices of the standard flow."""
    township = township or township_of(county)
    out = {}
    for name, role, where in (("cw", access.CASE_WORKER, township), ("cw2", access.CASE_WORKER, township),
                              ("town_ap", access.APPROVER, township), ("county_ap", access.APPROVER, county),
                              ("county_ap2", access.APPROVER, county),
                              ("vo", access.VERIFICATION_OFFICER, county), ("vo2", access.VERIFICATION_OFFICER, county),
                              ("fin", access.FINANCE_OFFICER, county), ("sup", access.SUPERVISOR, county)):
        username = f"{name}.{township[-6:]}"
        out[name] = auth.find_user(session, username) or auth.create_user(
            session, username, username, role, where, "Abcdef12!", must_change_password=False, clock=clock)
    out["township"] = township
    return out


def materials(item_code: str, session, region: str, *, skip: tuple[str, ...] = ()) -> list[cases.MaterialIn]:
    """A scan for every material of the item (the required ones and the optional ones)."""
    item = catalogue.effective(session, item_code, region)
    return [cases.MaterialIn(m.name, f"scan-{i}.pdf", PDF) for i, m in enumerate(item.materials)
            if m.name not in skip]


def person_id(seq: int, birth: str = "19800101", region6: str = "510104") -> str:
    from jiuzhu import ids

    body = f"{region6}{birth}{seq:03d}"
    return body + ids.check_char(body)


def family(start: int = 1, region6: str = "510104") -> list[cases.MemberIn]:
    return [cases.MemberIn(person_id(start, "19800101", region6), "张建国", "02"),
            cases.MemberIn(person_id(start + 1, "19820202", region6), "李秀英", "10"),
            cases.MemberIn(person_id(start + 2, "20120303", region6), "张小明", "20")]
