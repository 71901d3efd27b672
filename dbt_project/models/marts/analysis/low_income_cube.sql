{{ config(**monthly_increment()) }}
-- 分布分析 cube (AN-2): the low-income population by month, county, category, age band, sex,
-- ethnicity, disability and cause of hardship. Counts only: no person key, ID or name (analysis zone).
with roll as (
    select r.period, r.person_key, r.aid_category as category, substr(r.region_code, 1, 6) as county_code
    from {{ ref('stg_minzheng__assistance_rosters') }} r
    where {{ in_build_months('r.period') }}
),
causes as (
    select person_key, min(risk_cause) as cause from {{ ref('stg_xiangcun__monitoring_targets') }} group by person_key
),
disability as (
    select person_key, min(grade_number) as grade from {{ ref('stg_canlian__disabilities') }}
    where certificate_status = '有效' group by person_key
),
people as (
    select
        r.period, r.county_code, substr(r.county_code, 1, 4) || '00' as prefecture_code, r.category,
        case when {{ age_in_years('p.birth_date', month_end('r.period')) }} < 18 then '0-17'
             when {{ age_in_years('p.birth_date', month_end('r.period')) }} < 60 then '18-59'
             when {{ age_in_years('p.birth_date', month_end('r.period')) }} < 80 then '60-79'
             else '80+' end as age_band,
        p.sex, p.ethnicity,
        case when d.grade is null then 'none' when d.grade <= 2 then 'severe' else 'other' end as disability,
        coalesce(c.cause, '未登记') as cause
    from roll r
    join {{ ref('stg_gongan__persons') }} p on p.person_key = r.person_key
    left join disability d on d.person_key = r.person_key
    left join causes c on c.person_key = r.person_key
)
select period, prefecture_code, county_code, category, age_band, sex, ethnicity, disability, cause,
       count(*) as persons
from people
group by period, prefecture_code, county_code, category, age_band, sex, ethnicity, disability, cause
