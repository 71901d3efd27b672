"""近亲属备案: staff and village cadres file their own close relatives, so that an application from
one of them is visited at home (DOMAIN: "Applications from relatives of staff and village cadres
require a mandatory home visit") and an officer who handles a relative's case is flagged by the
case supervision (``assistance.casewatch``, rule ``relative_approval``).

A staff member files only for themselves. The ID is validated (``jiuzhu.ids.parse``); the audit entry
carries the pseudonym of the relative, never the ID, and the relation only. Withdrawing a filing is
audited the same way, with the reason in the purpose.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from jiuzhu import access, audit, ids, masking
from jiuzhu.business.models import StaffRelative
from jiuzhu.errors import CodedError
from jiuzhu.supervision import BEIJING

# 近亲属 as the Civil Code (art. 1045) lists them, plus in-laws, which local rules on 近亲属备案 add.
RELATIONS_ZH = ("配偶", "父母", "子女", "兄弟姐妹", "祖父母", "外祖父母", "孙子女", "外孙子女", "配偶的父母",
                "子女的配偶")


class RelativeError(CodedError):
    """A filing refused, with why (Chinese)."""


def _number(person_id: str) -> str:
    try:
        return ids.parse(person_id).number
    except ids.InvalidId as exc:
        raise RelativeError(exc.code, f"近亲属的身份证号码有误:{exc.message}") from None


def file_relative(session: Session, user: access.Principal, person_id: str, relation_zh: str,
                  clock: audit.Clock = audit.utc_now) -> StaffRelative:
    """File ``person_id`` as the signed-in user's close relative (``relation_zh`` from ``RELATIONS_ZH``)."""
    number = _number(person_id)
    relation = (relation_zh or "").strip()
    if relation not in RELATIONS_ZH:
        raise RelativeError("RELATION_UNKNOWN", f"亲属关系须为以下之一:{'、'.join(RELATIONS_ZH)}")
    access.authorize_and_audit(session, user, "file_relatives", user.jurisdiction_code, masking.pseudonym(number),
                               purpose="近亲属备案", detail={"op": "file", "relation": relation}, clock=clock)
    existing = session.scalar(select(StaffRelative).where(StaffRelative.username == user.username,
                                                          StaffRelative.person_id == number))
    if existing is not None:
        raise RelativeError("RELATIVE_FILED", f"该近亲属已于{existing.filed_at.astimezone(BEIJING).date().isoformat()}备案")
    now = clock()
    row = StaffRelative(username=user.username, person_id=number, relation_zh=relation, filed_at=now,
                        updated_at=now)
    session.add(row)
    session.commit()
    return row


def relatives_of(session: Session, username: str) -> list[StaffRelative]:
    """The relatives ``username`` has on file, oldest filing first."""
    return list(session.scalars(select(StaffRelative).where(StaffRelative.username == username)
                                .order_by(StaffRelative.filed_at, StaffRelative.id)))


def withdraw(session: Session, user: access.Principal, person_id: str, reason: str,
             clock: audit.Clock = audit.utc_now) -> None:
    """Withdraw one of the user's own filings (a filing made in error, a relation that ended)."""
    number = _number(person_id)
    if not (reason or "").strip():
        raise RelativeError("REASON_MISSING", "撤回近亲属备案须写明原因")
    row = session.scalar(select(StaffRelative).where(StaffRelative.username == user.username,
                                                     StaffRelative.person_id == number))
    if row is None:
        raise RelativeError("RELATIVE_UNKNOWN", "您没有备案该近亲属")
    access.authorize_and_audit(session, user, "file_relatives", user.jurisdiction_code, masking.pseudonym(number),
                               purpose=f"撤回近亲属备案:{reason.strip()}",
                               detail={"op": "withdraw", "relation": row.relation_zh}, clock=clock)
    session.delete(row)
    session.commit()


def filed_persons(session: Session, person_ids: list[str] | set[str]) -> dict[str, list[StaffRelative]]:
    """Of ``person_ids``, those someone has filed as a relative: person → the filings."""
    if not person_ids:
        return {}
    out: dict[str, list[StaffRelative]] = {}
    for row in session.scalars(select(StaffRelative).where(StaffRelative.person_id.in_(sorted(set(person_ids))))
                               .order_by(StaffRelative.id)):
        out.setdefault(row.person_id, []).append(row)
    return out
