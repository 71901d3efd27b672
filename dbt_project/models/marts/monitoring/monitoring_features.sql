{{ config(**monthly_increment()) }}
-- 监测指标 (MN-1, MN-3): one row per household and month with every indicator the monitoring rules,
-- the weighted risk index and the risk model read. Only what was known by the month's end is used
-- (a death, a certificate or a claim dated later never reaches an earlier month), so the same row
-- serves training, evaluation and the monthly scoring. Three-month windows count rows, i.e. months
-- delivered for the household. Verification zone: keys identify households.
{#- three months before the first month built (the whole history when building from the start) -#}
{% set window_start = "'0000-00'" if var('from_period') == '0000-00'
                      else previous_period("'" ~ var('from_period') ~ "'", 3) %}
with profile as (
    select * from {{ ref('household_profile') }} where period >= {{ window_start }} and period <= '{{ var("to_period") }}'
),
members as (
    select * from {{ ref('int_household_members_monthly_joined') }} where period >= {{ window_start }} and period <= '{{ var("to_period") }}'
),
renshe as (
    select person_key, period, max(employment_status) as employment_status
    from {{ ref('stg_renshe__employment_incomes') }}
    -- three months before the first month built is as far back as a month built looks (status_before)
    where period >= {{ window_start }} and period <= '{{ var("to_period") }}'
    group by person_key, period
),
disability as (
    select person_key, min(issue_date) as since
    from {{ ref('stg_canlian__disabilities') }} where certificate_status = '有效' group by person_key
),
person_month as (
    -- each member with what the social-security feed said of them now and three months before
    select m.household_no, m.period, m.relation, m.region_code, m.ethnicity, m.age_years,
           r.employment_status as status_now, r3.employment_status as status_before,
           case when dis.since between {{ month_start(previous_period('m.period', 2)) }} and {{ month_end('m.period') }}
                then 1 else 0 end as disabled_recently
    from members m
    left join renshe r on r.person_key = m.person_key and r.period = m.period
    left join renshe r3 on r3.person_key = m.person_key and r3.period = {{ previous_period('m.period', 3) }}
    left join disability dis on dis.person_key = m.person_key
),
household_month as (
    select household_no, period,
           coalesce(max(case when relation = '02' then substr(region_code, 1, 9) end),
                    min(substr(region_code, 1, 9))) as township_code,
           coalesce(max(case when relation = '02' then ethnicity end), min(ethnicity)) as head_ethnicity,
           cast(sum(case when age_years between 16 and 59 then 1 else 0 end) as bigint) as working_age_members,
           cast(sum(case when age_years >= 60 then 1 else 0 end) as bigint) as elderly_members,
           cast(sum(case when age_years < 16 then 1 else 0 end) as bigint) as child_members,
           cast(sum(case when status_now = '2' then 1 else 0 end) as bigint) as unemployed_members,
           cast(sum(case when status_now = '2' and status_before = '1' then 1 else 0 end) as bigint) as job_lost_members,
           cast(sum(case when status_now = '4' and status_before in ('1', '2') then 1 else 0 end) as bigint) as contributions_stopped_members,
           cast(sum(case when disabled_recently = 1 and age_years between 16 and 59 then 1 else 0 end) as bigint) as new_disabled_working_age
    from person_month
    group by household_no, period
),
months as (select distinct period from profile),
deaths as (
    -- members who died in the last three months (they have left the member list by then)
    select p.household_no, mo.period, count(*) as deceased_3m,
           cast(sum(case when {{ age_in_years('p.birth_date', 'd.died_on') }} between 16 and 59 then 1 else 0 end) as bigint)
               as deceased_working_age_3m
    from (select person_key, min(death_date) as died_on from {{ ref('stg_siwang__deaths') }} group by person_key) d
    join {{ ref('stg_gongan__persons') }} p on p.person_key = d.person_key
    join months mo on d.died_on between {{ month_start(previous_period('mo.period', 2)) }} and {{ month_end('mo.period') }}
    group by p.household_no, mo.period
),
roll as (
    select household_no, period,
           max(case when aid_category = 'dibao' then 1 else 0 end) as on_dibao,
           max(case when aid_category = 'tekun' then 1 else 0 end) as on_tekun,
           max(case when aid_category = 'margin' then 1 else 0 end) as on_margin,
           max(case when aid_category = 'temporary' then 1 else 0 end) as on_temporary
    from {{ ref('stg_minzheng__assistance_rosters') }} where period >= {{ window_start }} and period <= '{{ var("to_period") }}'
    group by household_no, period
),
monitored as (
    select p.household_no, min(t.identified_date) as monitored_since
    from {{ ref('stg_xiangcun__monitoring_targets') }} t
    join {{ ref('stg_gongan__persons') }} p on p.person_key = t.person_key
    group by p.household_no
),
windowed as (
    select pr.*,
           lag(pr.counted_income_yuan, 3) over (partition by pr.household_no order by pr.period) as income_3m_before,
           lag(pr.income_per_capita_yuan / pr.standard_yuan, 3) over (partition by pr.household_no order by pr.period)
               as income_ratio_3m_before,
           avg(pr.wage_yuan) over (partition by pr.household_no order by pr.period
                                   rows between 3 preceding and 1 preceding) as wage_before_yuan,
           sum(pr.medical_out_of_pocket_yuan) over (partition by pr.household_no order by pr.period
                                                    rows between 2 preceding and current row) as medical_oop_3m_yuan,
           sum(pr.counted_income_yuan) over (partition by pr.household_no order by pr.period
                                             rows between 2 preceding and current row) as income_3m_yuan
    from profile pr
)
select
    w.household_no, w.period, w.county_code, substr(w.county_code, 1, 4) || '00' as prefecture_code,
    hm.township_code, hm.head_ethnicity, w.area_type, w.members,
    hm.working_age_members, hm.elderly_members, hm.child_members, w.severely_disabled_members,
    w.counted_income_yuan, w.income_per_capita_yuan, w.standard_yuan,
    {{ round_half_up('w.income_per_capita_yuan / w.standard_yuan', 4) }} as income_ratio,
    case when w.income_ratio_3m_before >= 1 and w.income_per_capita_yuan < w.standard_yuan then 1 else 0 end
        as fell_below_standard,
    case when w.income_3m_before > 0
         then {{ round_half_up('greatest(w.income_3m_before - w.counted_income_yuan, 0) / w.income_3m_before', 4) }}
         else 0 end as income_drop_share,
    case when w.wage_before_yuan > 0
         then {{ round_half_up('greatest(w.wage_before_yuan - w.wage_yuan, 0) / w.wage_before_yuan', 4) }}
         else 0 end as wage_drop_share,
    w.medical_oop_3m_yuan,
    {{ round_half_up('w.medical_oop_3m_yuan / greatest(w.income_3m_yuan, w.standard_yuan * w.members * 3)', 4) }} as medical_burden,
    hm.unemployed_members, hm.job_lost_members, hm.contributions_stopped_members, hm.new_disabled_working_age,
    coalesce(d.deceased_3m, 0) as deceased_3m, coalesce(d.deceased_working_age_3m, 0) as deceased_working_age_3m,
    case when w.has_bank_data = 1 then {{ round_half_up('w.deposits_yuan / w.members / w.standard_yuan', 2) }} end
        as deposits_months_of_standard,
    w.has_bank_data, w.homes,
    coalesce(r.on_dibao, 0) as on_dibao, coalesce(r.on_tekun, 0) as on_tekun,
    coalesce(r.on_margin, 0) as on_margin, coalesce(r.on_temporary, 0) as on_temporary,
    case when mo.monitored_since <= {{ month_end('w.period') }} then 1 else 0 end as monitored_target,
    w.assessment
from windowed w
join household_month hm on hm.household_no = w.household_no and hm.period = w.period
left join deaths d on d.household_no = w.household_no and d.period = w.period
left join roll r on r.household_no = w.household_no and r.period = w.period
left join monitored mo on mo.household_no = w.household_no
where {{ in_build_months('w.period') }}
