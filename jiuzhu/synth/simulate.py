"""The monthly life of a county over the window: incomes, assets, events, eligibility, caseload.

Vectorised over persons and households; one loop over months only where a month depends on
the one before (the caseload). The result is the ground truth: what really happened, of which
the departments' deliveries show only a part (informal income, for one, reaches no department).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np

from jiuzhu import policy
from jiuzhu.synth import population as pop

# Employment types
EMP_NONE, EMP_FORMAL, EMP_INFORMAL, EMP_PAYROLL, EMP_SELF, EMP_MIGRANT = 0, 1, 2, 3, 4, 5
# Caseload status per household and month
ST_NONE, ST_DIBAO, ST_TEKUN, ST_MARGIN, ST_TEMP = 0, 1, 2, 3, 4
STATUS_NAMES = {ST_NONE: "none", ST_DIBAO: "dibao", ST_TEKUN: "tekun", ST_MARGIN: "margin", ST_TEMP: "temporary"}
NEVER = 9999


def month_start(window_start: _dt.date, m: int) -> _dt.date:
    y, mo = divmod(window_start.month - 1 + m, 12)
    return _dt.date(window_start.year + y, mo + 1, 1)


def month_days(window_start: _dt.date, m: int) -> int:
    return (month_start(window_start, m) - pop.EPOCH).days


@dataclass
class Life:
    """Ground truth of one county: person and household arrays, monthly matrices (rows × months)."""

    c: pop.County
    months: int
    window_start: _dt.date
    # persons
    emp: np.ndarray
    base_wage: np.ndarray
    pension_emp: np.ndarray  # urban employee pension (counted income)
    pension_res: np.ndarray  # residents' basic pension (not counted)
    insured: np.ndarray  # wage visible to social insurance
    housing_fund: np.ndarray
    p_end: np.ndarray  # month of death (NEVER if alive at the end)
    disab_grade: np.ndarray  # 0 none, 1..4
    disab_type: np.ndarray
    disab_month: np.ndarray  # -1 before the window, else onset month, NEVER none
    job_loss: np.ndarray
    rehire: np.ndarray
    illness: np.ndarray
    illness_cost: np.ndarray
    student: np.ndarray
    # monthly person matrices
    wage: np.ndarray
    unemp_benefit: np.ndarray
    business_income: np.ndarray
    medical_oop: np.ndarray
    medical_total: np.ndarray
    # households
    hh_county: np.ndarray  # 6-digit county code by month (moves)
    hh_move_month: np.ndarray
    hh_village_by_move: np.ndarray
    deposits: np.ndarray  # household × month, yuan
    homes: list  # list of (hh, month_registered, area, usage)
    vehicles: list  # (hh, owner person, month, value, type)
    businesses: list  # (owner person, month, kind, capital)
    # monthly household matrices
    members: np.ndarray
    income: np.ndarray  # counted monthly income
    standard: np.ndarray
    eligible: np.ndarray
    hardship: np.ndarray
    status: np.ndarray
    benefit: np.ndarray
    monitored: np.ndarray  # rural return-to-poverty monitoring target
    monitor_cause: np.ndarray
    payroll_hh: np.ndarray
    assets_ok: np.ndarray


def _age_years(c: pop.County, days: int) -> np.ndarray:
    return (days - c.p_birth) / 365.25


def schedule_arrivals(rng, c: pop.County, months: int, window_start: _dt.date) -> None:
    """Births and in-marrying spouses during the window, appended as new persons."""
    start_days = month_days(window_start, 0)
    age = _age_years(c, start_days)
    # births: women 20-40 who are head or spouse; about 1.1 % a year
    mothers = np.flatnonzero((c.p_sex == "F") & (age >= 20) & (age <= 40) &
                             np.isin(c.p_rel, [pop.REL_HEAD, pop.REL_SPOUSE]))
    birth_m = rng.integers(0, months * 10, len(mothers))  # one in ten over the window
    born = birth_m < months
    mothers, birth_m = mothers[born], birth_m[born]
    # marriages: unmarried children 23-35 bring a spouse into the household (about 1.5 % a year)
    singles = np.flatnonzero((c.p_rel == pop.REL_CHILD) & (age >= 23) & (age <= 35))
    marry_m = rng.integers(0, months * 30, len(singles))
    married = marry_m < months
    singles, marry_m = singles[married], marry_m[married]
    nb, ns = len(mothers), len(singles)
    if nb + ns == 0:
        return
    hh = np.concatenate([c.p_hh[mothers], c.p_hh[singles]])
    rel = np.array([pop.REL_CHILD] * nb + [pop.REL_SPOUSE] * ns, dtype=object)
    # mothers are heads or spouses, so a newborn is a child of the head
    sex_b = np.where(rng.random(nb) < 0.515, "M", "F")
    sex_s = np.where(c.p_sex[singles] == "M", "F", "M")
    sex = np.concatenate([sex_b, sex_s]).astype(object)
    birth_days = np.array([month_days(window_start, int(m)) for m in birth_m], dtype=np.int64)
    birth_days = birth_days + rng.integers(0, 28, nb)
    spouse_birth = c.p_birth[singles] + rng.integers(-1500, 1500, ns)
    birth = np.concatenate([birth_days, spouse_birth]).astype(np.int64)
    eth = np.concatenate([c.p_eth[mothers], np.where(rng.random(ns) < 0.8, c.p_eth[singles], "01")]).astype(object)
    surname_b = np.array([str(nm)[0] for nm in c.p_name[mothers]], dtype=object) if nb else np.array([], dtype=object)
    names_b = pop._names(rng, sex_b, c.p_eth[mothers], surname_b) if nb else np.array([], dtype=object)
    names_s = pop._names(rng, sex_s, np.full(ns, "01", dtype=object), pop.draw_surnames(rng, ns)) if ns else np.array([], dtype=object)
    names = np.concatenate([names_b, names_s]).astype(object)
    ext = pop.external_codes()[(c.index * 7) % len(pop.external_codes())]
    birthplace = np.concatenate([np.full(nb, c.code, dtype=object),
                                 np.where(rng.random(ns) < 0.5, ext, c.code).astype(object)])
    start = np.concatenate([birth_m, marry_m])
    pop.add_persons(c, hh, rel, sex, birth, eth, names, birthplace, start)


def simulate(rng, c: pop.County, months: int, window_start: _dt.date, prefecture_factor: float,
             all_counties: list[str]) -> Life:
    n, n_hh, M = c.n_persons, c.n_households, months
    start_days = month_days(window_start, 0)
    age0 = _age_years(c, start_days)
    urban_p = c.hh_urban[c.p_hh]
    z_p = c.hh_z[c.p_hh]
    limits = policy.asset_limits()

    # --- schooling, disability, employment at the start -------------------------------------
    student = (age0 >= 6) & (age0 < 22) & ((age0 < 18) | (rng.random(n) < 0.45))
    disab = rng.random(n) < np.clip(0.02 + 0.0012 * age0, 0, 0.25)
    disab_grade = np.where(disab, rng.choice([1, 2, 3, 4], n, p=[0.12, 0.25, 0.3, 0.33]), 0)
    disab_type = rng.choice(np.array(["1", "2", "3", "4", "5", "6", "7"]), n,
                            p=[0.14, 0.24, 0.02, 0.33, 0.07, 0.08, 0.12])
    disab_month = np.where(disab, -1, NEVER)
    working_age = (age0 >= 18) & (age0 < 60) & ~student & ~(disab_grade.astype(bool) & (disab_grade <= 2))
    u = rng.random(n)
    rich = z_p > 0.8
    emp_urban = np.select([u < 0.06 + 0.08 * rich, u < 0.58, u < 0.80, u < 0.92],
                          [EMP_PAYROLL, EMP_FORMAL, EMP_INFORMAL, EMP_SELF], EMP_NONE)
    emp_rural = np.select([u < 0.02 + 0.03 * rich, u < 0.10, u < 0.58, u < 0.88, u < 0.95],
                          [EMP_PAYROLL, EMP_FORMAL, EMP_INFORMAL, EMP_MIGRANT, EMP_SELF], EMP_NONE)
    emp = np.where(working_age, np.where(urban_p, emp_urban, emp_rural), EMP_NONE)

    # --- household market income, shared among earners ---------------------------------------
    base_mean = np.where(c.hh_urban, 3900.0, 2000.0) * prefecture_factor
    sigma = np.where(c.hh_urban, 0.8, 0.55)
    sizes0 = np.bincount(c.p_hh[c.p_start == 0], minlength=n_hh)
    pci = base_mean * np.exp(sigma * c.hh_z - sigma ** 2 / 2)
    earner = (emp != EMP_NONE) & (c.p_start == 0)
    weight = np.where(earner, rng.uniform(0.6, 1.4, n) * np.where(emp == EMP_PAYROLL, 1.6, 1.0), 0.0)
    wsum = np.bincount(c.p_hh, weights=weight, minlength=n_hh)
    hh_market = pci * sizes0
    # Households with no earner but market income: the head farms or does odd jobs (informal).
    head = c.p_rel == pop.REL_HEAD
    no_earner = wsum[c.p_hh] == 0
    adult = (age0 >= 18) & (age0 < 75) & ~(disab_grade.astype(bool) & (disab_grade <= 2))
    give_head = head & no_earner & adult & (c.p_start == 0)
    emp = np.where(give_head, EMP_INFORMAL, emp)
    weight = np.where(give_head, 1.0, weight)
    wsum = np.bincount(c.p_hh, weights=weight, minlength=n_hh)
    share = np.where(wsum[c.p_hh] > 0, weight / np.maximum(wsum[c.p_hh], 1e-9), 0)
    base_wage = np.round(share * hh_market[c.p_hh] * 0.85, 0)
    base_wage = np.where(emp == EMP_PAYROLL, np.maximum(base_wage, rng.uniform(3500, 6500, n)), base_wage)
    base_wage = np.where(emp == EMP_FORMAL, np.maximum(base_wage, 1900.0), base_wage)  # minimum wage
    insured = np.isin(emp, [EMP_FORMAL, EMP_PAYROLL]) | ((emp == EMP_MIGRANT) & (rng.random(n) < 0.4))
    housing_fund = (emp == EMP_PAYROLL) | ((emp == EMP_FORMAL) & (rng.random(n) < 0.45))
    old = age0 >= 60
    emp_pension = old & (rng.random(n) < np.where(urban_p, 0.62, 0.12))
    pension_emp = np.where(emp_pension, np.round(rng.uniform(1800, 4200, n) * (1 + 0.1 * z_p).clip(0.6, 2)), 0.0)
    pension_res = np.where(old & ~emp_pension, np.round(rng.uniform(150, 260, n)), 0.0)

    # --- events over the window ----------------------------------------------------------------
    def first_month(rate_per_month: np.ndarray | float, size: int) -> np.ndarray:
        p = np.clip(np.broadcast_to(rate_per_month, (size,)), 1e-9, 0.999)
        g = rng.geometric(p) - 1
        return np.where(g < M, g, NEVER)

    hazard = np.clip(np.exp(-10.3 + 0.092 * age0) / 12, 0, 0.2)
    p_end = first_month(hazard, n)
    p_end = np.where(p_end < c.p_start, NEVER, p_end)  # arrivals are not dead on arrival
    is_earner = emp != EMP_NONE
    job_loss = np.where(is_earner & (emp != EMP_PAYROLL), first_month(np.where(emp == EMP_MIGRANT, 0.012, 0.007), n), NEVER)
    rehire = np.where(job_loss < NEVER, job_loss + 1 + rng.geometric(1 / 7, n), NEVER)
    illness = first_month(np.clip(0.0006 + 0.00008 * age0, 0, 0.02), n)
    illness_cost = np.where(illness < NEVER, np.round(rng.lognormal(9.9, 0.8, n)), 0.0)
    new_disab = (disab_grade == 0) & (first_month(0.0004 + 0.00002 * age0, n) < NEVER)
    onset = np.where(new_disab, rng.integers(0, M, n), NEVER)
    disab_grade = np.where(new_disab, rng.choice([1, 2, 3, 4], n, p=[0.2, 0.3, 0.25, 0.25]), disab_grade)
    disab_month = np.where(new_disab, onset, disab_month)

    # --- monthly person matrices --------------------------------------------------------------
    m_idx = np.arange(M)
    alive = (c.p_start[:, None] <= m_idx) & (m_idx < p_end[:, None])
    working = is_earner[:, None] & alive
    working &= ~((job_loss[:, None] <= m_idx) & (m_idx < rehire[:, None]))
    sick = (illness[:, None] <= m_idx) & (m_idx < illness[:, None] + 3)
    working &= ~(sick & (rng.random(n) < 0.6)[:, None])
    del sick
    severe_onset = new_disab & (disab_grade <= 2)
    working &= ~(severe_onset[:, None] & (onset[:, None] <= m_idx))
    raise_ = np.array([1.03 ** ((window_start.month - 1 + m) // 12) for m in m_idx])
    noise = rng.normal(1.0, 0.02, (n, M)).astype(np.float32).clip(0.7, 1.3)
    wage_like = (base_wage.astype(np.float32)[:, None] * raise_.astype(np.float32) * noise).round(0)
    wage_like *= working
    del noise
    salaried = np.isin(emp, [EMP_FORMAL, EMP_PAYROLL, EMP_MIGRANT])[:, None]
    wage = np.where(salaried, wage_like, 0.0).astype(np.float32)
    business_income = np.where(salaried, 0.0, wage_like).astype(np.float32)  # informal and self-employed
    lost_formal = (emp == EMP_FORMAL) & (job_loss < NEVER)
    unemp = lost_formal[:, None] & (job_loss[:, None] <= m_idx) & (m_idx < np.minimum(rehire, job_loss + 12)[:, None])
    unemp_benefit = np.where(unemp & alive, 1530.0, 0.0).astype(np.float32)
    pension_m = ((pension_emp[:, None] * raise_) * alive).round(0).astype(np.float32)

    # medical spending: the illness episode, plus chronic outpatient claims of the elderly
    spread = np.array([0.6, 0.3, 0.1])
    medical_total = np.zeros((n, M), dtype=np.float32)
    has_ill = np.flatnonzero(illness < NEVER)
    for k in range(3):
        mm = illness[has_ill] + k
        ok = mm < M
        medical_total[has_ill[ok], mm[ok]] += (illness_cost[has_ill[ok]] * 2.2 * spread[k]).astype(np.float32)
    chronic = (age0 >= 55) & (rng.random(n) < 0.15)
    # float32 draws: the (persons × months) matrices dominate memory at province scale
    chronic_claim = chronic[:, None] & alive & (rng.random((n, M), dtype=np.float32) < 0.5)
    medical_total += np.where(chronic_claim, rng.random((n, M), dtype=np.float32) * 750 + 150, 0).astype(np.float32)
    del chronic_claim
    medical_total = medical_total.round(0)
    oop_share = np.where(c.hh_urban[c.p_hh], 0.42, 0.38)[:, None]
    medical_oop = (medical_total * oop_share).round(0).astype(np.float32)

    # --- households over months -------------------------------------------------------------
    move = np.where(rng.random(n_hh) < 0.0015 * M, rng.integers(1, M, n_hh), NEVER)
    dest = np.array(all_counties, dtype=object)[rng.integers(0, len(all_counties), n_hh)]
    hh_county = np.where(m_idx[None, :] >= move[:, None], dest[:, None], c.code).astype(object)
    hh_village_by_move = c.hh_village.copy()
    from jiuzhu.synth.population import _villages  # noqa: PLC0415 (cached per county)
    for h in np.flatnonzero(move < NEVER):
        codes, _urb = _villages(str(dest[h]))
        hh_village_by_move[h] = codes[rng.integers(0, len(codes))]

    members = np.zeros((n_hh, M), dtype=np.int16)
    for m in range(M):
        members[:, m] = np.bincount(c.p_hh[alive[:, m]], minlength=n_hh)
    cost_share = limits["employment_cost_share"]
    counted = wage * (1 - cost_share) + business_income + unemp_benefit + pension_m
    income = np.zeros((n_hh, M), dtype=np.float64)
    oop_hh = np.zeros((n_hh, M), dtype=np.float64)
    for m in range(M):
        income[:, m] = np.bincount(c.p_hh, weights=counted[:, m], minlength=n_hh)
        oop_hh[:, m] = np.bincount(c.p_hh, weights=medical_oop[:, m], minlength=n_hh)
    income = income.round(0)

    # standards per household and month (the county can change with a move)
    standard = np.zeros((n_hh, M), dtype=np.float64)
    tekun_std = np.zeros((n_hh, M), dtype=np.float64)
    for m in range(M):
        day = month_start(window_start, m)
        for county in np.unique(hh_county[:, m]):
            sel = hh_county[:, m] == county
            for urban in (True, False):
                s2 = sel & (c.hh_urban == urban)
                if s2.any():
                    area = "urban" if urban else "rural"
                    standard[s2, m] = policy.standard(str(county), area, "dibao", day).amount_yuan
                    tekun_std[s2, m] = policy.standard(str(county), area, "tekun", day).amount_yuan

    # assets
    annual = np.maximum(income[:, 0] * 12, 0)
    deposits0 = np.where(rng.random(n_hh) < 0.9, rng.lognormal(0.2, 1.1, n_hh) * annual * 0.35, 0) + rng.uniform(0, 3000, n_hh)
    drift = np.cumprod(rng.normal(1.003, 0.015, (n_hh, M)), axis=1)
    deposits = (deposits0[:, None] * drift).round(0)
    windfall = (rng.random(n_hh) < 0.004 * M)
    wf_month = rng.integers(0, M, n_hh)
    deposits += np.where(windfall[:, None] & (m_idx >= wf_month[:, None]), rng.uniform(80000, 400000, n_hh)[:, None], 0)

    homes, vehicles, businesses = [], [], []
    # homes: rural households mostly own one registered home, urban 0-3
    n_homes = np.where(c.hh_urban, rng.poisson(np.clip(0.55 + 0.35 * c.hh_z, 0.05, 3)), (rng.random(n_hh) < 0.55).astype(int))
    n_homes += (rng.random(n_hh) < 0.04 * (c.hh_z > 1)).astype(int)
    for h in np.flatnonzero(n_homes):
        for _ in range(int(n_homes[h])):
            homes.append((h, -1))
    buy_home = first_month(0.0012 * (1 + (c.hh_z > 0.5)), n_hh)
    for h in np.flatnonzero(buy_home < NEVER):
        homes.append((h, int(buy_home[h])))
    # vehicles
    p_car = 1 / (1 + np.exp(-(1.6 * c.hh_z - 0.9))) * np.where(c.hh_urban, 0.6, 0.4)
    car = rng.random(n_hh) < p_car
    heads = np.flatnonzero(head & (c.p_start == 0))
    head_of = np.full(n_hh, -1)
    head_of[c.p_hh[heads]] = heads
    for h in np.flatnonzero(car & (head_of >= 0)):
        vehicles.append((h, int(head_of[h]), -1, float(round(rng.lognormal(11.2, 0.6), -2)), "K33"))
    moto = (~c.hh_urban) & (rng.random(n_hh) < 0.3) & (head_of >= 0)
    for h in np.flatnonzero(moto):
        vehicles.append((h, int(head_of[h]), -1, float(round(rng.uniform(2500, 9000), -2)), "M22"))
    buy_car = first_month(0.0025 * (1 + (c.hh_z > 0)), n_hh)
    for h in np.flatnonzero((buy_car < NEVER) & (head_of >= 0)):
        vehicles.append((h, int(head_of[h]), int(buy_car[h]), float(round(rng.lognormal(11.3, 0.5), -2)), "K33"))
    # businesses: the self-employed are registered sole traders; some well-off people run companies
    for p in np.flatnonzero((emp == EMP_SELF) & (c.p_start == 0) & (rng.random(n) < 0.7)):
        businesses.append((int(p), -1, "9600", float(round(rng.lognormal(10.8, 0.9), -3))))
    for p in np.flatnonzero((z_p > 1.3) & working_age & (rng.random(n) < 0.06)):
        businesses.append((int(p), -1, "1100", float(round(rng.lognormal(13.0, 1.0), -4))))
    reg = first_month(0.0008, n)
    for p in np.flatnonzero((reg < NEVER) & working_age):
        businesses.append((int(p), int(reg[p]), "9600", float(round(rng.lognormal(10.5, 0.8), -3))))

    def asset_matrix():
        homes_c = np.zeros((n_hh, M), dtype=np.int16)
        for h, mm in homes:
            homes_c[h, max(mm, 0):] += 1
        car_bad = np.zeros((n_hh, M), dtype=bool)
        for h, _p, mm, value, kind in vehicles:
            if kind == "K33" and value > limits["vehicle_max_value"]:
                car_bad[h, max(mm, 0):] = True
        company = np.zeros((n_hh, M), dtype=bool)
        trader_big = np.zeros((n_hh, M), dtype=bool)
        for p, mm, kind, capital in businesses:
            h = c.p_hh[p]
            if kind == "1100":
                company[h, max(mm, 0):] = True
            elif capital > limits["sole_trader_capital_max"]:
                trader_big[h, max(mm, 0):] = True
        return homes_c, car_bad, company, trader_big

    homes_c, car_bad, company, trader_big = asset_matrix()
    payroll_p = (emp == EMP_PAYROLL)[:, None] & alive
    payroll_hh = np.zeros((n_hh, M), dtype=bool)
    for m in range(M):
        payroll_hh[:, m] = np.bincount(c.p_hh, weights=payroll_p[:, m], minlength=n_hh) > 0
    size = np.maximum(members, 1)
    pci_m = income / size
    deposit_ok = deposits / size <= limits["deposits_per_capita_months"] * standard
    assets_ok = deposit_ok & ~car_bad & (homes_c <= limits["homes_max"]) & ~company & ~trader_big & ~payroll_hh
    alive_hh = members > 0
    eligible = (pci_m < standard) & assets_ok & alive_hh
    oop_3m = np.stack([oop_hh[:, max(m - 2, 0): m + 1].mean(axis=1) for m in range(M)], axis=1)
    hardship = eligible | (((income - oop_3m) / size < standard) & alive_hh & assets_ok)

    # tekun: one-person households, elderly or severely disabled, no income, no supporter
    person_one = sizes0 == 1
    head_age = np.zeros(n_hh)
    head_age[c.p_hh[heads]] = age0[heads]
    head_severe = np.zeros(n_hh, dtype=bool)
    head_severe[c.p_hh[heads]] = (disab_grade[heads] >= 1) & (disab_grade[heads] <= 2)
    tekun_ok = person_one & ~c.hh_supporter & ((head_age >= 60) | head_severe) & (pci_m[:, 0] < tekun_std[:, 0]) & assets_ok[:, 0]

    # --- the caseload, month by month ------------------------------------------------------
    status = np.zeros((n_hh, M), dtype=np.int8)
    margin_mult = limits["margin_income_multiple"]
    r = rng.random((n_hh, M))
    st = np.zeros(n_hh, dtype=np.int8)
    st[eligible[:, 0] & (r[:, 0] < 0.86)] = ST_DIBAO
    st[tekun_ok & (r[:, 0] < 0.92)] = ST_TEKUN
    # leakage: some near-poor households that fail a rule are on the roll (what 检出 must find)
    near = ~eligible[:, 0] & alive_hh[:, 0] & ((pci_m[:, 0] < 1.35 * standard[:, 0]) |
                                                ((pci_m[:, 0] < standard[:, 0]) & ~assets_ok[:, 0]))
    n_dibao = int((st == ST_DIBAO).sum())
    q = min(0.06 * n_dibao / max(int(near.sum()), 1), 0.8)
    st[near & (st == ST_NONE) & (rng.random(n_hh) < q)] = ST_DIBAO
    registered_margin = rng.random(n_hh) < 0.35
    for m in range(M):
        if m > 0:
            prev = status[:, m - 1]
            st = np.where(prev == ST_TEMP, ST_NONE, prev).astype(np.int8)
            dead_hh = ~alive_hh[:, m]
            st[dead_hh] = ST_NONE
            exit_ = (st == ST_DIBAO) & ~eligible[:, m] & (r[:, m] < 0.1)
            st[exit_] = ST_NONE
            join = (st != ST_DIBAO) & (st != ST_TEKUN) & eligible[:, m] & (r[:, m] < 0.12)
            st[join] = ST_DIBAO
            onset = hardship[:, m] & ~hardship[:, m - 1]
            st[onset & (st == ST_NONE) & (r[:, m] > 0.55)] = ST_TEMP
        is_margin = (st == ST_NONE) & ~eligible[:, m] & alive_hh[:, m] & assets_ok[:, m] & \
            (pci_m[:, m] < margin_mult * standard[:, m]) & registered_margin
        st[is_margin] = ST_MARGIN
        st[(st == ST_MARGIN) & ~((pci_m[:, m] < margin_mult * standard[:, m]) & assets_ok[:, m])] = ST_NONE
        status[:, m] = st
    benefit = np.zeros((n_hh, M), dtype=np.float64)
    dib = status == ST_DIBAO
    benefit[dib] = np.maximum(standard[dib] * size[dib] - income[dib], 0)
    benefit[dib] = np.maximum(benefit[dib], 60)  # a minimum payment where the top-up is tiny
    tk = status == ST_TEKUN
    benefit[tk] = tekun_std[tk] * size[tk]
    tmp = status == ST_TEMP
    benefit[tmp] = np.round(standard[tmp] * size[tmp] * 1.5)
    benefit = benefit.round(0)

    # rural return-to-poverty monitoring targets (防返贫监测)
    rural = ~c.hh_urban
    monitored = np.zeros((n_hh, M), dtype=bool)
    cause = np.full(n_hh, "", dtype=object)
    mon0 = rural & (pci_m[:, 0] < 2.0 * standard[:, 0]) & (rng.random(n_hh) < 0.35)
    monitored[mon0, :] = True
    cause[mon0] = rng.choice(np.array(["因病", "因残", "因学", "缺劳力", "因务工就业不稳"]), int(mon0.sum()))
    for m in range(1, M):
        onset = rural & hardship[:, m] & ~hardship[:, m - 1] & ~monitored[:, m]
        monitored[onset, m:] = True
        cause[onset & (cause == "")] = "因病"
    life = Life(
        c=c, months=M, window_start=window_start, emp=emp, base_wage=base_wage, pension_emp=pension_emp,
        pension_res=pension_res, insured=insured, housing_fund=housing_fund, p_end=p_end,
        disab_grade=disab_grade, disab_type=disab_type, disab_month=disab_month, job_loss=job_loss,
        rehire=rehire, illness=illness, illness_cost=illness_cost, student=student, wage=wage,
        unemp_benefit=unemp_benefit, business_income=business_income, medical_oop=medical_oop,
        medical_total=medical_total, hh_county=hh_county, hh_move_month=move,
        hh_village_by_move=hh_village_by_move, deposits=deposits, homes=homes, vehicles=vehicles,
        businesses=businesses, members=members, income=income, standard=standard, eligible=eligible,
        hardship=hardship, status=status, benefit=benefit, monitored=monitored, monitor_cause=cause,
        payroll_hh=payroll_hh, assets_ok=assets_ok,
    )
    life.pension_m = pension_m
    life.alive = alive
    life.age0 = age0
    return life
