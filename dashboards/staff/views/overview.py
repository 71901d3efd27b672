"""平台总览: what the platform holds now — lake tables and each department's deliveries."""

import json

import pandas as pd
import streamlit as st

from jiuzhu import settings, status

cfg = settings.load()
st.title("平台总览")
st.caption(f"合成省份:{cfg.scale} 规模,种子 {cfg.seed}(全部为合成数据,不含真实个人信息)")

summary_file = cfg.province_dir / "generation.json"
if summary_file.exists():
    summary = json.loads(summary_file.read_text("utf-8"))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("常住人口(合成)", f"{summary['persons']:,}")
    c2.metric("家庭户", f"{summary['households']:,}")
    c3.metric("共享单位报送批次", f"{summary['batches']:,}")
    c4.metric("报送记录", f"{summary['delivered_rows']:,}")
else:
    st.info("合成省份尚未生成。请运行 `make demo`。")

st.subheader("共享单位报送情况")
rows = status.inbox_summary(cfg.inbox)
frame = pd.DataFrame(rows).rename(columns={
    "name": "共享单位", "department": "代码", "batches": "批次", "records": "记录数", "late": "迟报批次",
    "resent": "重复报送", "last_period": "最近数据期", "format": "格式", "encoding": "编码",
})
st.dataframe(frame, hide_index=True, width="stretch")

st.subheader("数据湖表")
tables = status.lake_tables(cfg.lake) if cfg.lake.exists() else []
if tables:
    st.dataframe(pd.DataFrame(tables).rename(columns={"table": "表", "version": "版本", "rows": "行数"}),
                 hide_index=True, width="stretch")
else:
    st.info("数据湖中还没有表。")
