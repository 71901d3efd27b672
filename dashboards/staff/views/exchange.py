"""数据交换: each department's last batch, receipt, freshness and quality; quarantined rows by reason."""

import streamlit as st

from dashboards.staff import auth_state, labels, services, ui
from exchange import status as exchange_status
from jiuzhu import departments

DAGSTER_URL = "http://127.0.0.1:3000"

user = auth_state.require_page("exchange")
st.title("数据交换")
st.caption("各共享单位的报送、回执、时效与质量。来源:各单位批次台账 bronze/<单位>/_batches 与隔离区 quarantine/<单位>/rejected_rows。")
st.link_button("打开数据作业调度界面(Dagster)", DAGSTER_URL, icon=":material/open_in_new:",
               help="重放或补采某月数据、查看资产检查结果;仅限本机访问")

st.header("共享单位报送状态", divider="red")
status = ui.guarded(services.department_status, user)
if status is not None:
    if status["批次数"].sum() == 0:
        st.info("还没有任何批次入库。请在 Dagster 中开启 inbox_sensor 或运行 `jiuzhu exchange run`。")
    late = status[status["时效"] != "正常"]
    attention = status[status["质量"] != "正常"]
    c1, c2, c3 = st.columns(3)
    c1.metric("共享单位", len(status))
    c2.metric("时效异常", len(late), help="逾期未报送下一期数据或尚无数据")
    c3.metric("质量需关注", len(attention),
              help=f"累计拒收率超过{exchange_status.QUALITY_WARN_SHARE:.0%}或有整批拒收的批次")
    ui.table(status.drop(columns=["代码"]), key="exchange_status")

st.header("关系型数据源", divider="red")
st.caption("以数据库方式共享的单位:按变更时间增量抽取,写入收件箱后与文件报送同样校验入库(Dagster 作业 relational_pull)。")
pulls = ui.guarded(services.relational_sources, user)
if pulls is not None:
    ui.table(pulls, key="exchange_relational", empty="没有以数据库方式共享的单位。")

st.header("共享库(对外共享)", divider="red")
st.caption("按共享协议向其他单位提供数据:只提供协议约定的字段,按约定脱敏,每次提供写入单位的发件箱并记入审计日志"
           "(Dagster 作业 sharing_<协议>)。")
shared = ui.guarded(services.sharing_agreements, user)
if shared is not None:
    agreements, made = shared
    ui.table(agreements, key="exchange_agreements", empty="没有共享协议。")
    st.subheader("已提供的数据")
    ui.table(made, key="exchange_extracts", empty="尚未按协议提供过数据。")
    broken = int((made["校验"] != "完整").sum()) if not made.empty else 0
    if broken:
        st.error(f"{broken}份已提供的数据文件与其清单不符,请核查发件箱。")

st.header("数据交换接口", divider="red")
st.caption("以接口方式报送数据、提交委托核对、获取共享数据的单位(令牌只保存其摘要;接口说明见 docs/exchange-api.json)。")
api_units = ui.guarded(services.api_clients, user)
if api_units is not None:
    ui.table(api_units, key="exchange_api_clients", empty="尚未登记调用单位(jiuzhu api client-add)。")

st.header("纵向同步", divider="red")
st.caption("向市县数据中心导出的增量同步包(jiuzhu sync export):按区划切分,签名并附校验值,节点导入后回报所持版本。")
packages = ui.guarded(services.sync_packages, user)
if packages is not None:
    ui.table(packages, key="exchange_sync", empty="尚未导出同步包。")

st.header("拒收记录", divider="red")
slugs = departments.slugs()
department = st.selectbox("共享单位", slugs, format_func=lambda s: departments.get(s).name, key="exchange_department")
periods = ui.guarded(services.quarantine_periods, user, department) or []
period = st.selectbox("数据期", [None] + periods, format_func=lambda p: "全部" if p is None else p,
                      key=f"exchange_period_{department}")
rejections = ui.guarded(services.rejected_rows, user, department, period)
if rejections is None:
    st.info(f"{labels.department(department)}还没有拒收记录。")
else:
    st.caption(f"共 {rejections.total:,} 行被拒收。只显示批次、文件、行号与原因;原始记录含个人信息,不在此显示。")
    st.subheader("按原因")
    ui.table(rejections.by_reason, key="exchange_reasons")
    st.subheader("拒收明细")
    ui.table(rejections.rows, key="exchange_rejected_rows")

st.header("数据湖表", divider="red")
tables = ui.guarded(services.lake_tables, user)
if tables is not None:
    ui.table(tables, key="exchange_lake_tables", empty="数据湖中还没有表。")
