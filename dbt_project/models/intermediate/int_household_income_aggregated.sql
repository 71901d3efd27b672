{{ config(**monthly_increment()) }}
-- Counted monthly income per household and month (VF-2): wages less the necessary employment cost,
-- business income, employee pensions, unemployment benefit. Residents' basic pensions and the aid
-- itself reach no feed and do not count.
with members as (select * from {{ ref('int_household_members_monthly_joined') }} where {{ in_build_months('period') }}),
-- the feeds are read for the months built only (a chunk of a history reads its own months)
renshe as (select * from {{ ref('stg_renshe__employment_incomes') }} where {{ in_build_months('period') }}),
business as (
    select person_key, period, sum(income_yuan) as business_yuan
    from {{ ref('stg_shuiwu__taxable_incomes') }}
    where income_type = '经营所得' and {{ in_build_months('period') }} group by person_key, period
),
fund as (
    select person_key, period, max(case when employer_type = '机关事业单位' then 1 else 0 end) as payroll
    from {{ ref('stg_gongjijin__housing_funds') }} where {{ in_build_months('period') }} group by person_key, period
),
cost as (
    select limit_value as share from {{ ref('stg_policy__asset_limits') }} where limit_code = 'employment_cost_share'
)
select
    m.household_no, m.period,
    count(*) as members,
    coalesce(sum(r.wage_yuan), 0) as wage_yuan,
    coalesce(sum(b.business_yuan), 0) as business_yuan,
    coalesce(sum(r.pension_yuan), 0) as pension_yuan,
    coalesce(sum(r.unemployment_benefit_yuan), 0) as unemployment_benefit_yuan,
    coalesce(sum(r.wage_yuan), 0) * (1 - max(c.share)) + coalesce(sum(b.business_yuan), 0)
        + coalesce(sum(r.pension_yuan), 0) + coalesce(sum(r.unemployment_benefit_yuan), 0) as counted_income_yuan,
    max(case when r.employer_type = '机关事业单位' or f.payroll = 1 then 1 else 0 end) as has_public_payroll,
    max(case when r.employment_status = '2' then 1 else 0 end) as has_unemployed,
    max(case when r.person_key is not null then 1 else 0 end) as has_income_data
from members m
cross join cost c
left join renshe r on r.person_key = m.person_key and r.period = m.period
left join business b on b.person_key = m.person_key and b.period = m.period
left join fund f on f.person_key = m.person_key and f.period = m.period
group by m.household_no, m.period
