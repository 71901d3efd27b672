"""Flows of the aid items as data (BZ-2): ``flows.yaml`` in this package, plus every ``*.yaml`` in
``$JIUZHU_FLOWS_DIR`` (a deployment's own flows; a file there may also replace a packaged flow).

Loading validates everything and refuses with a Chinese message that names the file, the flow and
the step; a case is only ever started on a valid flow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from jiuzhu import access
from jiuzhu.errors import CodedError

PACKAGED = Path(__file__).resolve().parent / "flows.yaml"
DIR_ENV = "JIUZHU_FLOWS_DIR"
KINDS = {"acceptance": "受理", "verification": "核对", "review": "审核", "approval": "审批", "publicity": "公示",
         "disbursement": "资金发放", "handling": "办理"}
OFFICES = {"township": 4, "county": 3, "city": 2, "province": 1}  # the level in the region tree
OFFICE_ZH = {"township": "乡镇(街道)", "county": "县(市、区)", "city": "市(州)", "province": "省"}


class FlowError(CodedError):
    """A flow definition refused, with where and why."""


@dataclass(frozen=True)
class StepDef:
    code: str
    name_zh: str
    kind: str
    office: str
    action: str
    working_days: int | None
    calendar_days: int | None
    warn_before: int
    four_eyes_with: str | None


@dataclass(frozen=True)
class Flow:
    code: str
    name_zh: str
    total_working_days: int
    extension_working_days: int
    steps: tuple[StepDef, ...]
    source: str

    def step(self, code: str) -> StepDef:
        for s in self.steps:
            if s.code == code:
                return s
        raise FlowError("STEP_UNKNOWN", f"流程“{self.name_zh}”中没有环节{code}")

    def next_step(self, code: str) -> StepDef | None:
        codes = [s.code for s in self.steps]
        i = codes.index(code)
        return self.steps[i + 1] if i + 1 < len(self.steps) else None


def _int(value, where: str, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FlowError("FLOW_INVALID", f"{where}:{field}须为非负整数,现为{value!r}")
    return value


def _step(raw: dict, where: str, seen: set[str]) -> StepDef:
    if not isinstance(raw, dict):
        raise FlowError("FLOW_INVALID", f"{where}:环节须为键值对")
    code = raw.get("code")
    where = f"{where}环节{code}"
    if not code or not isinstance(code, str):
        raise FlowError("FLOW_INVALID", f"{where}:缺少环节代码 code")
    if code in seen:
        raise FlowError("FLOW_INVALID", f"{where}:环节代码重复")
    for field in ("name_zh", "kind", "office", "action"):
        if not raw.get(field):
            raise FlowError("FLOW_INVALID", f"{where}:缺少 {field}")
    if raw["kind"] not in KINDS:
        raise FlowError("FLOW_INVALID", f"{where}:未知的环节类型{raw['kind']}(可选:{'、'.join(KINDS)})")
    if raw["office"] not in OFFICES:
        raise FlowError("FLOW_INVALID", f"{where}:未知的办理层级{raw['office']}(可选:{'、'.join(OFFICES)})")
    if raw["action"] not in access.ACTIONS:
        raise FlowError("FLOW_INVALID", f"{where}:未知的权限{raw['action']}")
    working, calendar = _int(raw.get("working_days"), where, "working_days"), _int(raw.get("calendar_days"), where,
                                                                                  "calendar_days")
    if (working is None) == (calendar is None):
        raise FlowError("FLOW_INVALID", f"{where}:须且只能设置 working_days 或 calendar_days 之一")
    if raw["kind"] == "publicity" and calendar is None:
        raise FlowError("FLOW_INVALID", f"{where}:公示环节的期限按自然日计(calendar_days)")
    four_eyes = raw.get("four_eyes_with")
    if four_eyes is not None and four_eyes not in seen:
        raise FlowError("FLOW_INVALID", f"{where}:four_eyes_with 须指向此前的环节,{four_eyes}不在其前")
    unknown = set(raw) - {"code", "name_zh", "kind", "office", "action", "working_days", "calendar_days",
                          "warn_before", "four_eyes_with"}
    if unknown:
        raise FlowError("FLOW_INVALID", f"{where}:未知的字段{sorted(unknown)}")
    seen.add(code)
    return StepDef(code, raw["name_zh"], raw["kind"], raw["office"], raw["action"], working, calendar,
                   _int(raw.get("warn_before", 1), where, "warn_before"), four_eyes)


def _flow(code: str, raw: dict, source: str) -> Flow:
    where = f"{source} 流程{code}"
    if not isinstance(raw, dict) or not raw.get("name_zh") or not isinstance(raw.get("steps"), list):
        raise FlowError("FLOW_INVALID", f"{where}:须有 name_zh 和环节列表 steps")
    seen: set[str] = set()
    steps = tuple(_step(s, where, seen) for s in raw["steps"])
    if not steps or steps[0].kind != "acceptance":
        raise FlowError("FLOW_INVALID", f"{where}:第一个环节须为受理(kind: acceptance)")
    if steps[-1].kind != "disbursement":
        raise FlowError("FLOW_INVALID", f"{where}:最后一个环节须为资金发放(kind: disbursement)")
    if not any(s.kind == "approval" for s in steps):
        raise FlowError("FLOW_INVALID", f"{where}:流程须有审批环节(kind: approval)")
    total = _int(raw.get("total_working_days"), where, "total_working_days")
    if total is None:
        raise FlowError("FLOW_INVALID", f"{where}:缺少办理总时限 total_working_days")
    return Flow(code, raw["name_zh"], total, _int(raw.get("extension_working_days", 0), where,
                                                  "extension_working_days") or 0, steps, source)


def _read(path: Path) -> dict[str, Flow]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FlowError("FLOW_UNREADABLE", f"无法读取流程文件{path.name}:{exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("flows"), dict):
        raise FlowError("FLOW_INVALID", f"{path.name}:须有 flows 键")
    return {code: _flow(code, raw, path.name) for code, raw in doc["flows"].items()}


def load(extra_dir: Path | None = None) -> dict[str, Flow]:
    """Every flow: the packaged ones, then a deployment's (``extra_dir`` or ``$JIUZHU_FLOWS_DIR``)."""
    flows = _read(PACKAGED)
    folder = extra_dir or (Path(os.environ[DIR_ENV]) if os.environ.get(DIR_ENV) else None)
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.yaml")):
            flows.update(_read(path))
    return flows


def get(code: str, extra_dir: Path | None = None) -> Flow:
    flows = load(extra_dir)
    if code not in flows:
        raise FlowError("FLOW_UNKNOWN", f"未定义的办理流程:{code}")
    return flows[code]
