{{ config(**monthly_increment()) }}
-- Who belongs to which household in each month: a person counts from their first hukou event
-- (the snapshot, a birth, a move in) until the month they die.
with persons as (
    select * from {{ ref('stg_gongan__persons') }}
),
events as (
    select person_key, min(change_date) as member_from,
           min(case when change_type = '死亡注销' then change_date end) as deregistered_on
    from {{ ref('stg_gongan__hukou_events') }}
    group by person_key
),
deaths as (
    select person_key, min(death_date) as died_on from {{ ref('stg_siwang__deaths') }} group by person_key
),
months as (
    -- every month some department delivered: the same calendar for one household or all of them
    select distinct period from {{ ref('stg_exchange__batches') }}
    where status <> 'duplicate' and {{ in_build_months('period') }}
)
select
    m.period,
    p.household_no, p.person_key, p.person_id, p.relation, p.sex, p.ethnicity, p.birth_date,
    p.region_code, p.county_code, p.prefecture_code, p.area_type,
    {{ age_in_years('p.birth_date', month_end('m.period')) }} as age_years,
    coalesce(d.died_on, e.deregistered_on) as died_on
from persons p
join events e on e.person_key = p.person_key
left join deaths d on d.person_key = p.person_key
join months m
  on e.member_from <= {{ month_end('m.period') }}
 and (coalesce(d.died_on, e.deregistered_on) is null or coalesce(d.died_on, e.deregistered_on) > {{ month_end('m.period') }})
