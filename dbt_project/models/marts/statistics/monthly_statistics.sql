{{ config(**monthly_increment()) }}
-- 统计月报 (MN-4): recipients, households and amounts by county, aid category and month, with
-- month-on-month and year-on-year change. Amounts are the household's monthly amount, once per household.
with households as (
    select period, substr(min(region_code), 1, 6) as county_code, household_no, aid_category,
           count(*) as persons, max(household_amount_yuan) as amount_yuan
    from {{ ref('stg_minzheng__assistance_rosters') }}
    group by period, household_no, aid_category
),
monthly as (
    select period, county_code, substr(county_code, 1, 4) || '00' as prefecture_code, aid_category,
           cast(sum(persons) as bigint) as recipients, count(*) as households, sum(amount_yuan) as amount_yuan
    from households
    group by period, county_code, aid_category
)
select
    m.*,
    prev.recipients as recipients_last_month,
    m.recipients - prev.recipients as recipients_mom_change,
    last_year.recipients as recipients_last_year,
    m.recipients - last_year.recipients as recipients_yoy_change,
    m.amount_yuan - prev.amount_yuan as amount_mom_change,
    m.amount_yuan - last_year.amount_yuan as amount_yoy_change
from monthly m
left join monthly prev
  on prev.county_code = m.county_code and prev.aid_category = m.aid_category
 and prev.period = {{ previous_period('m.period', 1) }}
left join monthly last_year
  on last_year.county_code = m.county_code and last_year.aid_category = m.aid_category
 and last_year.period = {{ previous_period('m.period', 12) }}
where {{ in_build_months('m.period') }}
