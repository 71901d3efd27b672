"""The data dictionary (数据字典 / 数据元管理), generated from the contracts."""

from __future__ import annotations

from schemas import contracts

PII_ZH = {"none": "非敏感", "id": "身份证件号", "name": "姓名", "phone": "电话", "account": "账号",
          "address": "地址", "sensitive": "敏感信息"}
TYPE_ZH = {"citizen_id": "公民身份号码", "string": "字符", "code": "代码", "date": "日期", "period": "年月",
           "amount": "金额", "number": "数值", "integer": "整数", "region_code": "区划代码", "uscc": "统一社会信用代码"}
UNIT_ZH = {"yuan": "元", "fen": "分(入库时换算为元)", "wanyuan": "万元(入库时换算为元)"}


def elements() -> list[dict]:
    """One row per data element (our field name), with every department that delivers it."""
    out: dict[str, dict] = {}
    for (_dept, version), c in sorted(contracts.all_contracts().items()):
        for f in c.fields:
            e = out.setdefault(f.name, {
                "element": f.name, "description": f.description, "type": TYPE_ZH[f.type], "pii": PII_ZH[f.pii],
                "access_level": f.access_level, "units": set(), "deliveries": [], "codes": None,
            })
            e["access_level"] = max(e["access_level"], f.access_level)
            if f.unit:
                e["units"].add(UNIT_ZH.get(f.unit, f.unit))
            if f.codes and not e["codes"]:
                e["codes"] = f.codes
            e["deliveries"].append(f"{c.name.split('(')[0]}:{f.source}(v{version})")
    return [out[k] for k in sorted(out)]


def markdown() -> str:
    lines = [
        "# 数据字典 Data dictionary",
        "",
        "Generated from the department contracts in `schemas/contracts/` by `jiuzhu exchange dictionary`;",
        "do not edit by hand (a test checks it is current). 访问级别 1 (公开) … 4 (最敏感).",
        "",
        "| 数据元 | 含义 | 类型 | 单位 | 敏感类别 | 访问级别 | 报送单位:原字段名 |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in elements():
        units = "、".join(sorted(e["units"])) or "—"
        lines.append(f"| `{e['element']}` | {e['description']} | {e['type']} | {units} | {e['pii']} | "
                     f"{e['access_level']} | {'<br>'.join(e['deliveries'])} |")
    lines += ["", "## 代码表 Code lists", ""]
    for e in elements():
        if e["codes"]:
            codes = ";".join(f"{k}={v}" if k != v else k for k, v in e["codes"].items())
            lines.append(f"- `{e['element']}`({e['description']}):{codes}")
    return "\n".join(lines) + "\n"
