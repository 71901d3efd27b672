"""电子证照: the approver issues the signed 低保证/特困证 of the jurisdiction's recipients, keeps the
register (revoked certificates with the reason) and verifies a certificate by number and check code
or from its file."""

import streamlit as st

from assistance import certificates
from dashboards.staff import auth_state, ui
from dashboards.staff import certificate_services as cs

PDF_KEY = "certificates_pdf"
FLASH_KEY = "certificates_flash"
STATUS_FILTER = {"": "全部", **certificates.STATUS_ZH}


def show(result: certificates.CertificateStatus) -> None:
    text = f"核验结果:{result.status_zh}。{result.message_zh}"
    if result.ok:
        st.success(text)
    elif result.status == "revoked":
        st.warning(text)
    else:
        st.error(text)


user = auth_state.require_page("certificates")
st.title("电子证照")
st.caption("为最低生活保障对象签发低保证、为特困人员签发特困证:证照经电子签名,印有核验码和二维码,可凭证照编号与核验码"
           "或证照文件核验真伪;救助待遇终止后证照自动注销。签发、下载和核验均记入审计日志。")

if FLASH_KEY in st.session_state:
    st.success(st.session_state.pop(FLASH_KEY))
held = st.session_state.get(PDF_KEY)
if held:
    st.download_button(f"下载电子证照 {held[0]}(PDF)", held[1], file_name=f"{held[0]}.pdf", mime="application/pdf",
                       on_click="ignore", key="certificates_download")

tab_issue, tab_register, tab_verify = st.tabs(["待签发", "证照台账", "证照核验"])

with tab_issue:
    pending = ui.guarded(cs.pending_frame, user)
    if pending is not None:
        ui.table(pending, key="certificates_pending", empty="管辖区域内有效的低保、特困对象均已签发证照。")
        if not pending.empty:
            chosen = st.selectbox("选择救助对象", [0] + pending["待遇编号"].tolist(), key="certificates_benefit",
                                  format_func=lambda n: "请选择" if not n else f"待遇 {n}")
            if chosen and st.button("签发电子证照", key="certificates_issue", type="primary"):
                issued, ok = ui.attempt(cs.issue, user, int(chosen))
                if ok:
                    st.session_state[PDF_KEY] = issued
                    st.session_state[FLASH_KEY] = f"已签发电子证照 {issued[0]}"
                    st.rerun()

with tab_register:
    status = st.selectbox("状态", list(STATUS_FILTER), format_func=STATUS_FILTER.get, key="certificates_status")
    register = ui.guarded(cs.register_frame, user, status or None)
    if register is not None:
        ui.table(register, key="certificates_register", empty="管辖区域内还没有签发电子证照。")
        valid = register[register["状态"] == certificates.STATUS_ZH["valid"]]["证照编号"].tolist()
        if valid:
            again = st.selectbox("重新生成证照文件", [""] + valid, key="certificates_again",
                                 format_func=lambda n: n or "请选择")
            if again and st.button("生成证照文件", key="certificates_regenerate"):
                pdf, ok = ui.attempt(cs.download, user, again)
                if ok:
                    st.session_state[PDF_KEY] = (again, pdf)
                    st.rerun()

with tab_verify:
    with st.form("certificates_verify_form"):
        number = st.text_input("证照编号", key="certificates_verify_no")
        code = st.text_input("核验码(12位,可含连字符)", key="certificates_verify_code")
        asked = st.form_submit_button("核验", key="certificates_verify")
    if asked:
        result, ok = ui.attempt(cs.verify_code, user, number, code)
        if ok:
            show(result)
    upload = st.file_uploader("或上传证照文件(PDF)核验", type=["pdf"], key="certificates_verify_file")
    if upload is not None:
        result, ok = ui.attempt(cs.verify_file, user, upload.getvalue())
        if ok:
            show(result)
    st.caption("核验只显示证照类别、持证人姓氏(其余以*代替)、所在地区和有效期;核验码错误时不显示任何持证人信息。")
