-- 低收入人口库 (MN-2): every person in a low-income category in the latest month — dibao, tekun,
-- low-income margin, temporary aid (from the roll) and return-to-poverty monitoring targets (乡村振兴),
-- with start date, region, demographics and the household's monitoring indicators of the month
-- (monitoring_features). Verification zone: keys identify people.
with latest as (select max(period) as period from {{ ref('stg_minzheng__assistance_rosters') }}),
roll as (
    select r.person_key, r.household_no, r.aid_category as category, r.start_date, r.region_code, r.period
    from {{ ref('stg_minzheng__assistance_rosters') }} r join latest l on r.period = l.period
),
monitored as (
    select t.person_key, p.household_no, 'monitoring' as category, t.identified_date as start_date,
           p.region_code, l.period
    from {{ ref('stg_xiangcun__monitoring_targets') }} t
    join {{ ref('stg_gongan__persons') }} p on p.person_key = t.person_key
    cross join latest l
    where t.monitoring_status = '监测中'
),
everyone as (select * from roll union all select * from monitored),
disability as (
    select person_key, min(grade_number) as disability_grade from {{ ref('stg_canlian__disabilities') }}
    where certificate_status = '有效' group by person_key
)
select
    e.period, e.person_key, e.household_no, e.category, e.start_date, e.region_code,
    substr(e.region_code, 1, 6) as county_code, substr(e.region_code, 1, 4) || '00' as prefecture_code,
    p.sex, p.ethnicity, {{ age_in_years('p.birth_date', month_end('e.period')) }} as age_years,
    d.disability_grade, p.area_type,
    f.income_ratio, f.income_drop_share, f.medical_oop_3m_yuan, f.medical_burden, f.job_lost_members,
    f.contributions_stopped_members, f.new_disabled_working_age, f.deceased_working_age_3m
from everyone e
join {{ ref('stg_gongan__persons') }} p on p.person_key = e.person_key
left join disability d on d.person_key = e.person_key
left join {{ ref('monitoring_features') }} f on f.household_no = e.household_no and f.period = e.period
