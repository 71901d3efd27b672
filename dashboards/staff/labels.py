"""Chinese labels for the codes the gold tables carry (what staff read on screen and in exports)."""

from __future__ import annotations

from functools import cache

from jiuzhu import access, departments
from schemas import contracts

AID_CATEGORIES = {
    "dibao": "最低生活保障(低保)",
    "tekun": "特困人员供养(特困)",
    "margin": "低保边缘",
    "temporary": "临时救助",
    "monitoring": "防返贫监测",
}
AGE_BANDS = {"0-17": "0-17岁", "18-59": "18-59岁", "60-79": "60-79岁", "80+": "80岁及以上"}
AGE_ORDER = list(AGE_BANDS.values())
SEXES = {"1": "男", "2": "女"}
DISABILITY = {"none": "无残疾", "severe": "重度残疾(一、二级)", "other": "其他残疾(三、四级)"}
BATCH_STATUS = {
    "loaded": "已入库",
    "rejected": "整批拒收",
    "superseding": "更正报送",
    "duplicate": "重复报送(未重复入库)",
}
OUTCOMES = {"allowed": "允许", "denied": "拒绝", "success": "成功", "failure": "失败"}
AUDIT_ACTIONS = {
    "login": "登录",
    "logout": "退出登录",
    "change_password": "修改密码",
    "create_user": "创建账户",
}


def aid_category(code: str | None) -> str:
    return AID_CATEGORIES.get(code or "", code or "未知")


def age_band(code: str | None) -> str:
    return AGE_BANDS.get(code or "", code or "未知")


def sex(code: str | None) -> str:
    return SEXES.get(code or "", "未知")


def disability(code: str | None) -> str:
    return DISABILITY.get(code or "", code or "未知")


@cache
def _ethnic_names() -> dict[str, str]:
    """GB 3304 names: the full code list of the public-security contract, then the generator's."""
    from jiuzhu.synth.population import ETHNIC_NAMES  # numpy: kept off the login path, loaded on first use

    names: dict[str, str] = {}
    for field in contracts.latest("gongan").fields:
        if field.name == "ethnicity" and field.codes:
            names.update({str(k).zfill(2): v for k, v in field.codes.items()})
    names.update(ETHNIC_NAMES)
    return names


def ethnicity(code: str | None) -> str:
    if not code:
        return "未知"
    return _ethnic_names().get(str(code).zfill(2), f"民族代码{code}")


def department(slug: str) -> str:
    try:
        return departments.get(slug).short_name
    except KeyError:
        return slug


def audit_action(action: str) -> str:
    if action in access.ACTIONS:
        return access.ACTIONS[action].name_zh
    return AUDIT_ACTIONS.get(action, action)


def role(code: str | None) -> str:
    return access.ROLE_NAMES_ZH.get(code or "", code or "—")
