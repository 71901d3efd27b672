"""安全策略: the settings the security administrator owns — consecutive failed logins before an
account locks, how long it stays locked, the idle and the absolute session limits. Stored in the
business database (a missing row is the default below), read at every login, changed only through
``update`` (``manage_security_settings``, audited with the old and the new value)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jiuzhu import access, audit, auth
from jiuzhu.business.models import SecuritySetting
from jiuzhu.errors import CodedError


@dataclass(frozen=True)
class Setting:
    name_zh: str
    unit_zh: str
    minimum: int
    maximum: int
    default: int


SETTINGS: dict[str, Setting] = {
    "max_failures": Setting("连续登录失败锁定次数", "次", 3, 10, auth.MAX_FAILURES),
    "lockout_minutes": Setting("账户锁定时长", "分钟", 5, 240, int(auth.LOCKOUT.total_seconds() // 60)),
    "idle_timeout_minutes": Setting("无操作自动退出时限", "分钟", 5, 120, int(auth.IDLE_TIMEOUT.total_seconds() // 60)),
    "absolute_timeout_hours": Setting("单次登录最长时限", "小时", 1, 24, int(auth.ABSOLUTE_TIMEOUT.total_seconds() // 3600)),
}


class SettingError(CodedError):
    """A setting refused: unknown, or outside its range (the range is in the message)."""


@dataclass(frozen=True)
class Policy:
    max_failures: int
    lockout: timedelta
    idle_timeout: timedelta
    absolute_timeout: timedelta


def values(session: Session) -> dict[str, int]:
    stored = {row.key: row.value for row in session.scalars(select(SecuritySetting))}
    return {key: stored.get(key, s.default) for key, s in SETTINGS.items()}


def policy(session: Session) -> Policy:
    v = values(session)
    return Policy(v["max_failures"], timedelta(minutes=v["lockout_minutes"]),
                  timedelta(minutes=v["idle_timeout_minutes"]), timedelta(hours=v["absolute_timeout_hours"]))


def rows(session: Session) -> list[dict]:
    """Each setting with its value, range and who changed it last (for the administrator's page)."""
    stored = {row.key: row for row in session.scalars(select(SecuritySetting))}
    out = []
    for key, s in SETTINGS.items():
        row = stored.get(key)
        out.append({"key": key, "name_zh": s.name_zh, "unit_zh": s.unit_zh, "value": row.value if row else s.default,
                    "default": s.default, "minimum": s.minimum, "maximum": s.maximum,
                    "updated_by": row.updated_by if row else None, "updated_at": row.updated_at if row else None})
    return out


def update(session: Session, user: access.Principal, key: str, value: int, *,
           clock: audit.Clock = audit.utc_now) -> int:
    """Set one value (refused outside its range, with the range in Chinese); returns the old value."""
    if key not in SETTINGS:
        raise SettingError("SETTING_UNKNOWN", f"未知的安全策略项:{key}")
    s = SETTINGS[key]
    if not isinstance(value, int) or isinstance(value, bool) or not s.minimum <= value <= s.maximum:
        raise SettingError("SETTING_OUT_OF_RANGE", f"{s.name_zh}须为{s.minimum}至{s.maximum}{s.unit_zh}之间的整数")
    old = values(session)[key]
    access.authorize_and_audit(session, user, "manage_security_settings", user.jurisdiction_code,
                               purpose=f"修改安全策略:{s.name_zh}", detail={"key": key, "old": old, "new": value},
                               clock=clock)
    row = session.get(SecuritySetting, key)
    now = clock()
    if row is None:
        session.add(SecuritySetting(key=key, value=value, updated_by=user.username, updated_at=now))
    else:
        row.value, row.updated_by, row.updated_at = value, user.username, now
    session.commit()
    return old
