"""What each department would deliver for one county and one month, before delivery defects.

Each function returns a dict of column → numpy array (typed: strings, numbers, ``datetime64[D]``)
named as the department names its columns. The deliveries show only what that department knows:
informal income reaches nobody, banks report only on the households the platform asked about.
"""

from __future__ import annotations

import numpy as np
from stdnum.cn import uscc

from jiuzhu.synth import population as pop
from jiuzhu.synth.simulate import (
    EMP_FORMAL, EMP_MIGRANT, EMP_PAYROLL, EMP_SELF, ST_DIBAO, ST_MARGIN, ST_NONE, ST_TEKUN,
    ST_TEMP, Life, month_days,
)

# Plate prefixes by prefecture (川A 成都 …)
PLATE_LETTER = {"5101": "A", "5103": "C", "5104": "D", "5105": "E", "5106": "F", "5107": "B", "5108": "H",
                "5109": "J", "5110": "K", "5111": "L", "5113": "R", "5114": "Z", "5115": "Q", "5116": "X",
                "5117": "S", "5118": "T", "5119": "Y", "5120": "M", "5132": "U", "5133": "V", "5134": "W"}
DISABILITY_TYPES = {"1": "视力残疾", "2": "听力残疾", "3": "言语残疾", "4": "肢体残疾", "5": "智力残疾",
                    "6": "精神残疾", "7": "多重残疾"}
GRADE_NAMES = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}
AID_ITEM_NAMES = {ST_DIBAO: ("城市低保", "农村低保"), ST_TEKUN: ("城市特困", "农村特困"),
                  ST_MARGIN: ("低保边缘", "低保边缘"), ST_TEMP: ("临时救助", "临时救助")}


def _date(days) -> np.ndarray:
    return (np.datetime64("1970-01-01") + np.asarray(days, dtype=np.int64).astype("timedelta64[D]"))


def _zfill(values: np.ndarray, width: int) -> np.ndarray:
    values = np.asarray(values)
    if len(values) == 0:
        return np.array([], dtype=str)
    return np.char.zfill(values.astype(str), width)


def _period(life: Life, m: int) -> str:
    d = np.datetime64(life.window_start, "M") + np.timedelta64(m, "M")
    return str(d).replace("-", "")


class CountyFeeds:
    """Builds every department's rows for one county, month by month."""

    def __init__(self, rng, life: Life):
        self.rng = rng
        self.life = life
        c = life.c
        self.c = c
        self.hh_no = np.char.add(c.code, _zfill(np.arange(c.n_households) + c.hh_base, 9)).astype(object)
        heads = np.flatnonzero(c.p_rel == pop.REL_HEAD)
        self.head_of = np.full(c.n_households, -1)
        self.head_of[c.p_hh[heads]] = heads
        self.sex_code = np.where(c.p_sex == "M", "1", "2").astype(object)
        # ancillary attributes drawn once so that every month agrees
        n = c.n_persons
        self.home_area = rng.uniform(45, 160, max(len(life.homes), 1)).round(1)
        self.plate_no = rng.integers(10000, 99999, max(len(life.vehicles), 1))
        self.biz_seq = rng.integers(0, 10 ** 9, max(len(life.businesses), 1))
        self.bank = rng.choice(np.array(["102", "103", "104", "105", "402"]), n)
        self.account = rng.integers(10 ** 11, 10 ** 12, n)

    def village(self, m: int) -> np.ndarray:
        life = self.life
        moved = life.hh_move_month <= m
        return np.where(moved, life.hh_village_by_move, self.c.hh_village)

    # --- 公安 户籍 ------------------------------------------------------------------------
    def gongan(self, m: int) -> dict:
        c, life = self.c, self.life
        if m == 0:
            sel = (c.p_start == 0) & life.alive[:, 0]
            change = np.full(int(sel.sum()), "全量", dtype=object)
            when = np.full(int(sel.sum()), month_days(life.window_start, 0) - 1)
        else:
            arrive = c.p_start == m
            dead = life.p_end == m
            moved = (life.hh_move_month[c.p_hh] == m) & life.alive[:, m - 1] & ~arrive & ~dead
            sel = arrive | dead | moved
            born = arrive & (c.p_rel == pop.REL_CHILD)
            change = np.select([born[sel], arrive[sel], dead[sel]], ["出生", "迁入", "死亡注销"], "迁出迁入")
            when = np.where(born[sel], c.p_birth[sel], month_days(life.window_start, m) + 9)
        idx = np.flatnonzero(sel)
        village = self.village(m)[c.p_hh[idx]]
        urban = self.c.hh_urban[c.p_hh[idx]]
        return {
            "公民身份号码": c.p_id[idx], "姓名": c.p_name[idx], "性别": self.sex_code[idx],
            "民族": c.p_eth[idx], "出生日期": _date(c.p_birth[idx]), "户号": self.hh_no[c.p_hh[idx]],
            "与户主关系": c.p_rel[idx], "户籍地区划代码": village,
            "户口性质": np.where(urban, "城镇", "农村").astype(object),
            "变动类型": np.asarray(change, dtype=object), "变动日期": _date(when),
        }

    # --- 人社 ---------------------------------------------------------------------------
    def renshe(self, m: int) -> dict:
        life, c = self.life, self.c
        alive = life.alive[:, m]
        wage, pension, unemp = life.wage[:, m], life.pension_m[:, m], life.unemp_benefit[:, m]
        insured = life.insured & alive
        sel = insured | (pension > 0) | (unemp > 0)
        idx = np.flatnonzero(sel)
        status = np.select([pension[idx] > 0, unemp[idx] > 0, wage[idx] > 0], ["3", "2", "1"], "4")
        emp = life.emp[idx]
        employer = np.select([emp == EMP_PAYROLL, emp == EMP_FORMAL, emp == EMP_MIGRANT], ["机关事业单位", "企业", "企业"], "")
        return {
            "id_number": c.p_id[idx], "name": c.p_name[idx], "period": np.full(len(idx), _period(life, m), dtype=object),
            "employment_status": status.astype(object), "employer_type": employer.astype(object),
            "wage": wage[idx].astype(np.float64), "pension": pension[idx].astype(np.float64),
            "unemployment_benefit": unemp[idx].astype(np.float64),
        }

    # --- 税务 ---------------------------------------------------------------------------
    def shuiwu(self, m: int) -> dict:
        life, c = self.life, self.c
        wage, biz = life.wage[:, m], life.business_income[:, m]
        has_trader = np.zeros(c.n_persons, dtype=bool)
        for p, mm, _kind, _cap in life.businesses:
            if mm <= m:
                has_trader[p] = True
        w_idx = np.flatnonzero(wage >= 5000)
        b_idx = np.flatnonzero((biz >= 5000) & has_trader & (life.emp == EMP_SELF))
        idx = np.concatenate([w_idx, b_idx])
        amount = np.concatenate([wage[w_idx], biz[b_idx]]).astype(np.float64)
        kind = np.array(["工资薪金所得"] * len(w_idx) + ["经营所得"] * len(b_idx), dtype=object)
        tax = np.round(np.maximum(amount - 5000, 0) * 0.03, 2)
        return {"taxpayer_id": c.p_id[idx], "taxpayer_name": c.p_name[idx],
                "tax_period": np.full(len(idx), _period(life, m), dtype=object),
                "income_type": kind, "income_amount": amount, "tax_paid": tax}

    # --- 不动产 -------------------------------------------------------------------------
    def budongchan(self, m: int) -> dict:
        life, c = self.life, self.c
        rows = [i for i, (_h, mm) in enumerate(life.homes) if (mm == m) or (m == 0 and mm < 0)]
        rows = np.array(rows, dtype=np.int64)
        hh = np.array([life.homes[i][0] for i in rows], dtype=np.int64)
        owner = self.head_of[hh] if len(hh) else np.array([], dtype=np.int64)
        ok = owner >= 0
        rows, hh, owner = rows[ok], hh[ok], owner[ok]
        reg_month = np.array([life.homes[i][1] for i in rows], dtype=np.int64)
        reg_days = np.where(reg_month < 0, month_days(life.window_start, 0) - 200 - (rows * 37) % 5000,
                            month_days(life.window_start, 0) + reg_month * 30 + 12)
        year = _date(reg_days).astype("datetime64[Y]").astype(str)
        cert = np.char.add(np.char.add(np.char.add("川(", year), ")不动产权第"), _zfill(rows * 7919 + c.index * 131, 7))
        cert = np.char.add(np.char.add(cert, "号-"), np.full(len(rows), c.code))
        return {"certificate_no": cert.astype(object), "owner_id": c.p_id[owner], "owner_name": c.p_name[owner],
                "region_code": self.village(m)[hh], "usage": np.full(len(rows), "住宅", dtype=object),
                "area_m2": self.home_area[rows] if len(rows) else np.array([], dtype=float),
                "registration_date": _date(reg_days),
                "change_type": np.where(reg_month < 0, "存量", "首次登记").astype(object)}

    # --- 车辆 -----------------------------------------------------------------------------
    def cheliang(self, m: int) -> dict:
        life, c = self.life, self.c
        rows = np.array([i for i, v in enumerate(life.vehicles) if v[2] == m or (m == 0 and v[2] < 0)], dtype=np.int64)
        owner = np.array([life.vehicles[i][1] for i in rows], dtype=np.int64)
        mm = np.array([life.vehicles[i][2] for i in rows], dtype=np.int64)
        value = np.array([life.vehicles[i][3] for i in rows], dtype=np.float64)
        kind = np.array([life.vehicles[i][4] for i in rows], dtype=object)
        letter = PLATE_LETTER.get(c.code[:4], "A")
        plate = np.char.add(f"川{letter}", self.plate_no[rows].astype(str)) if len(rows) else np.array([], dtype=str)
        first = np.where(mm < 0, month_days(life.window_start, 0) - 100 - (rows * 53) % 3000,
                         month_days(life.window_start, 0) + mm * 30 + 5)
        return {"所有人身份证号": c.p_id[owner], "所有人姓名": c.p_name[owner], "号牌号码": plate.astype(object),
                "车辆类型": np.where(kind == "K33", "小型轿车", "普通二轮摩托车").astype(object),
                "初次登记日期": _date(first), "车辆估值": value,
                "机动车状态": np.full(len(rows), "正常", dtype=object)}

    # --- 市场监管 ----------------------------------------------------------------------------
    def shichang(self, m: int) -> dict:
        life, c = self.life, self.c
        rows = np.array([i for i, b in enumerate(life.businesses) if b[1] == m or (m == 0 and b[1] < 0)], dtype=np.int64)
        owner = np.array([life.businesses[i][0] for i in rows], dtype=np.int64)
        kind = np.array([life.businesses[i][2] for i in rows], dtype=object)
        capital = np.array([life.businesses[i][3] for i in rows], dtype=np.float64)
        mm = np.array([life.businesses[i][1] for i in rows], dtype=np.int64)
        codes = []
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        for i, k in zip(rows, kind, strict=True):
            seq = int(self.biz_seq[i])
            org = "".join(alphabet[(seq // 31 ** j) % 31] for j in range(9))
            body = ("92" if k == "9600" else "91") + c.code + org
            codes.append(body + uscc.calc_check_digit(body + "0"))
        names = np.array([f"{c.p_name[o]}{'个体工商户' if k == '9600' else '商贸有限公司'}" for o, k in zip(owner, kind, strict=True)], dtype=object)
        founded = np.where(mm < 0, month_days(life.window_start, 0) - 300 - (rows * 97) % 4000,
                           month_days(life.window_start, 0) + mm * 30 + 15)
        return {"统一社会信用代码": np.array(codes, dtype=object), "主体名称": names,
                "主体类型": np.where(kind == "9600", "个体工商户", "有限责任公司").astype(object),
                "经营者身份证号": c.p_id[owner], "经营者姓名": c.p_name[owner],
                "注册资本": np.round(capital / 10000, 4), "成立日期": _date(founded),
                "登记状态": np.full(len(rows), "存续", dtype=object),
                "住所区划代码": self.village(m)[c.p_hh[owner]] if len(owner) else np.array([], dtype=object)}

    # --- 公积金 ------------------------------------------------------------------------------
    def gongjijin(self, m: int) -> dict:
        life, c = self.life, self.c
        sel = life.housing_fund & (life.wage[:, m] > 0)
        idx = np.flatnonzero(sel)
        base = np.round(life.wage[idx, m].astype(np.float64), 0)
        return {"zjhm": c.p_id[idx], "xm": c.p_name[idx], "jcny": np.full(len(idx), _period(life, m), dtype=object),
                "dwlx": np.where(life.emp[idx] == EMP_PAYROLL, "机关事业单位", "企业").astype(object),
                "jcjs": base, "yjce": np.round(base * 0.24, 2)}

    # --- 医保 ----------------------------------------------------------------------------------
    def yibao(self, m: int) -> dict:
        life, c = self.life, self.c
        total = life.medical_total[:, m]
        idx = np.flatnonzero(total > 0)
        inpatient = (life.illness[idx] <= m) & (m < life.illness[idx] + 3)
        oop = life.medical_oop[idx, m].astype(np.float64)
        tot = total[idx].astype(np.float64)
        assist = np.round(np.where(inpatient, oop * 0.1, 0), 2)
        fund = np.round(tot - oop - assist, 2)
        day = month_days(life.window_start, m) + (idx % 27)
        return {"claim_id": np.char.add(f"YB{_period(life, m)}{c.code}", _zfill(idx, 8)).astype(object),
                "person_id": c.p_id[idx], "person_name": c.p_name[idx], "settlement_date": _date(day),
                "visit_type": np.where(inpatient, "住院", "门诊慢特病").astype(object),
                "hospital_level": np.where(inpatient, "三级", "一级").astype(object),
                "total_cost": tot, "fund_paid": fund, "assistance_paid": assist, "out_of_pocket": oop,
                "diagnosis_category": np.where(inpatient, "重大疾病", "慢性病").astype(object)}

    # --- 残联 ------------------------------------------------------------------------------------
    def canlian(self, m: int) -> dict:
        life, c = self.life, self.c
        if m == 0:
            sel = (life.disab_grade > 0) & (life.disab_month < 0) & life.alive[:, 0]
        else:
            sel = (life.disab_month == m) & life.alive[:, m]
        idx = np.flatnonzero(sel)
        t, g = life.disab_type[idx], life.disab_grade[idx]
        issued = np.where(life.disab_month[idx] < 0, month_days(life.window_start, 0) - 400 - (idx * 31) % 4000,
                          month_days(life.window_start, 0) + np.maximum(life.disab_month[idx], 0) * 30 + 20)
        return {"身份证号": c.p_id[idx], "姓名": c.p_name[idx],
                "残疾人证号": np.char.add(np.char.add(c.p_id[idx].astype(str), t.astype(str)), g.astype(str)).astype(object),
                "残疾类别": np.array([DISABILITY_TYPES[x] for x in t], dtype=object),
                "残疾等级": np.array([GRADE_NAMES[int(x)] for x in g], dtype=object),
                "发证日期": _date(issued), "证件状态": np.full(len(idx), "有效", dtype=object)}

    # --- 银行 ------------------------------------------------------------------------------------
    def yinhang(self, m: int) -> dict:
        """Banks answer for the verification subjects the platform sends them each month: members of
        households on the roll, in low-income monitoring, or newly in hardship (applicants)."""
        life, c = self.life, self.c
        subject = (life.status[:, m] != ST_NONE) | life.monitored[:, m] | life.hardship[:, m]
        if m > 0:
            subject |= life.status[:, m - 1] != ST_NONE
        holders = np.flatnonzero(subject[c.p_hh] & life.alive[:, m] & np.isin(c.p_rel, [pop.REL_HEAD, pop.REL_SPOUSE]))
        # the household's deposits split between its head (0.7) and its spouse-coded members (0.3
        # shared): a child's in-marrying spouse is also coded 10 (the contract has no 女婿/儿媳), and
        # giving each 0.3 reported 1.3 times the family's money
        # (and all of it to the spouses when the head is no longer alive)
        spouses = np.bincount(c.p_hh[holders[c.p_rel[holders] == pop.REL_SPOUSE]], minlength=c.n_households)
        heads = np.bincount(c.p_hh[holders[c.p_rel[holders] == pop.REL_HEAD]], minlength=c.n_households)
        hh = c.p_hh[holders]
        share = np.where(c.p_rel[holders] == pop.REL_HEAD, np.where(spouses[hh] > 0, 0.7, 1.0),
                         np.where(heads[hh] > 0, 0.3, 1.0) / np.maximum(spouses[hh], 1))
        balance = life.deposits[c.p_hh[holders], m] * share
        products = np.where(balance > 50000, balance * 0.3, 0)
        return {"id_no": c.p_id[holders], "name": c.p_name[holders],
                "period": np.full(len(holders), _period(life, m), dtype=object),
                "bank_code": self.bank[holders].astype(object),
                "account_no": np.char.add("6217", self.account[holders].astype(str)).astype(object),
                "deposit_balance": np.round(balance - products, 2),
                "financial_assets": np.round(products, 2)}

    # --- 死亡 ----------------------------------------------------------------------------------
    def siwang(self, m: int) -> dict:
        life, c = self.life, self.c
        idx = np.flatnonzero(life.p_end == m)
        day = month_days(life.window_start, m) + (idx % 28)
        return {"身份证号": c.p_id[idx], "姓名": c.p_name[idx], "死亡日期": _date(day),
                "死亡地点区划代码": self.village(m)[c.p_hh[idx]],
                "死亡原因分类": np.where(life.illness[idx] <= m, "疾病", "其他").astype(object)}

    # --- 乡村振兴 ---------------------------------------------------------------------------------
    def xiangcun(self, m: int) -> dict:
        life, c = self.life, self.c
        new = life.monitored[:, m] & (~life.monitored[:, m - 1] if m > 0 else True)
        sel = new[c.p_hh] & life.alive[:, m]
        idx = np.flatnonzero(sel)
        hh = c.p_hh[idx]
        head = self.head_of[hh]
        head_id = np.where(head >= 0, c.p_id[np.maximum(head, 0)], c.p_id[idx])
        kind = np.where(life.status[hh, m] != ST_NONE, "脱贫不稳定户", np.where(m == 0, "边缘易致贫户", "突发严重困难户"))
        return {"household_head_id": head_id.astype(object), "member_id": c.p_id[idx], "member_name": c.p_name[idx],
                "target_type": kind.astype(object), "risk_cause": life.monitor_cause[hh],
                "identified_date": _date(np.full(len(idx), month_days(life.window_start, m) + 14)),
                "status": np.full(len(idx), "监测中", dtype=object)}

    # --- 民政 在册救助对象 ----------------------------------------------------------------------------
    def minzheng(self, m: int) -> dict:
        life, c = self.life, self.c
        st = life.status[:, m]
        on = (st != ST_NONE)[c.p_hh] & life.alive[:, m]
        idx = np.flatnonzero(on)
        hh = c.p_hh[idx]
        # the first month of the current spell of the household's status
        spell_start = np.zeros(c.n_households, dtype=np.int64)
        for k in range(1, m + 1):
            changed = life.status[:, k] != life.status[:, k - 1]
            spell_start[changed] = k
        item = np.array([AID_ITEM_NAMES[int(s)][0 if u else 1] for s, u in zip(st[hh], c.hh_urban[hh], strict=True)], dtype=object)
        start_day = np.where(spell_start[hh] == 0, month_days(life.window_start, 0) - 30 * (1 + hh % 40),
                             month_days(life.window_start, 0) + spell_start[hh] * 30)
        return {"household_no": self.hh_no[hh], "aid_item": item, "member_id": c.p_id[idx], "member_name": c.p_name[idx],
                "relation": c.p_rel[idx], "region_code": self.village(m)[hh],
                "start_date": (_date(start_day).astype("datetime64[M]")).astype("datetime64[D]"),
                "household_size": life.members[hh, m].astype(np.int64),
                "monthly_amount": life.benefit[hh, m].astype(np.float64),
                "period": np.full(len(idx), _period(life, m), dtype=object)}
