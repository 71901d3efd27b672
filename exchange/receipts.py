"""Receipts (回执): what the platform tells a department about each batch, as JSON and Chinese text."""

from __future__ import annotations

import json
from pathlib import Path

from jiuzhu import departments, ids

MAX_ROWS_IN_TEXT = 50

STATUS_ZH = {"loaded": "已接收", "rejected": "整批拒收", "duplicate": "重复报送(未重复入库)",
             "superseding": "已接收(更正批次,替代此前报送)"}


def receipt_name(outcome) -> str:
    suffix = "replay-" + outcome.ingested_at.replace(":", "").replace("-", "")[:15] if outcome.status == "duplicate" \
        else outcome.batch_key.split("@")[-1]
    return f"{outcome.batch_id}__{suffix}"


def write(outcome, receipts_dir: Path) -> Path:
    folder = Path(receipts_dir) / outcome.department
    folder.mkdir(parents=True, exist_ok=True)
    name = receipt_name(outcome)
    data = outcome.as_dict()
    data["rejected_rows"] = outcome.rejected_rows
    (folder / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", "utf-8")
    path = folder / f"{name}.txt"
    path.write_text(text(outcome), "utf-8")
    return path


def text(o) -> str:
    try:
        dept_name = departments.get(o.department).name
    except KeyError:
        dept_name = o.department
    lines = [
        "数据报送回执",
        f"共享单位:{dept_name}",
        f"批次号:{o.batch_id}    数据所属期:{o.period}    协议版本:{o.contract_version}",
        f"处理结果:{STATUS_ZH.get(o.status, o.status)}",
        f"清单声明记录数:{o.declared}    实收:{o.delivered}    入库:{o.accepted}    隔离:{o.rejected}    其中重复:{o.duplicates}",
        f"文件校验和:{'一致' if o.checksum_ok else '不一致'}",
    ]
    if o.replay_of:
        lines.append(f"说明:本批次内容与已接收的批次 {o.replay_of} 完全相同,未重复入库。")
    if o.supersedes:
        lines.append(f"说明:本批次替代此前报送的 {o.supersedes}。")
    if o.batch_error:
        lines.append(f"拒收原因:{o.batch_error['message']}")
    for w in o.warnings:
        lines.append(f"提示:{w['message']}")
    if o.reasons:
        lines.append("隔离原因统计:" + ";".join(f"{k} {v}条" for k, v in sorted(o.reasons.items())))
    if o.rejected_rows:
        lines.append(f"隔离明细(前{MAX_ROWS_IN_TEXT}条,完整清单见JSON回执):")
        for r in o.rejected_rows[:MAX_ROWS_IN_TEXT]:
            lines.append(f"  文件 {r['file']} 第{r['row_number']}行:{r['message']}")
    lines.append("请更正后在下一批次中重新报送被隔离的记录。")
    return "\n".join(lines) + "\n"


def masked(value: str) -> str:
    return ids.mask(value)
