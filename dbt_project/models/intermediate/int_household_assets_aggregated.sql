{{ config(**monthly_increment()) }}
-- Assets per household and month (VF-2): deposits and financial assets (banks report on the
-- households the platform asks about), registered homes, cars (motorcycles and disability
-- vehicles exempt), companies and sole traders; plus medical spending, severe disability, deaths.
with members as (select * from {{ ref('int_household_members_monthly_joined') }} where {{ in_build_months('period') }}),
deposits as (
    select person_key, period, sum(deposit_yuan + financial_assets_yuan) as deposits_yuan
    from {{ ref('stg_yinhang__deposits') }} where {{ in_build_months('period') }} group by person_key, period
),
homes as (select * from {{ ref('stg_budongchan__real_estates') }} where usage = '住宅'),
cars as (select * from {{ ref('stg_cheliang__vehicles') }} where not asset_exempt and vehicle_status <> '注销'),
firms as (select * from {{ ref('stg_shichang__businesses') }} where registration_status = '存续'),
medical as (
    select person_key, period, sum(out_of_pocket_yuan) as out_of_pocket_yuan
    from {{ ref('stg_yibao__medical_claims') }} where {{ in_build_months('period') }} group by person_key, period
),
disability as (
    select person_key, min(grade_number) as grade, min(issue_date) as since
    from {{ ref('stg_canlian__disabilities') }} where certificate_status = '有效' group by person_key
),
homes_pm as (
    select m.person_key, m.period, count(*) as homes
    from members m join homes h on h.person_key = m.person_key and h.registration_date <= {{ month_end('m.period') }}
    group by m.person_key, m.period
),
cars_pm as (
    select m.person_key, m.period, max(c.vehicle_value_yuan) as max_car_value_yuan
    from members m join cars c on c.person_key = m.person_key and c.first_registration_date <= {{ month_end('m.period') }}
    group by m.person_key, m.period
),
firms_pm as (
    select m.person_key, m.period,
           cast(sum(case when f.entity_type = '有限责任公司' then 1 else 0 end) as bigint) as companies,
           max(case when f.entity_type = '个体工商户' then f.registered_capital_yuan end) as sole_trader_capital_yuan
    from members m join firms f on f.person_key = m.person_key and f.established_date <= {{ month_end('m.period') }}
    group by m.person_key, m.period
),
per_person as (
    select
        m.household_no, m.period, m.person_key, d.deposits_yuan, coalesce(h.homes, 0) as homes,
        c.max_car_value_yuan, coalesce(f.companies, 0) as companies, f.sole_trader_capital_yuan,
        md.out_of_pocket_yuan,
        case when dis.grade <= 2 and dis.since <= {{ month_end('m.period') }} then 1 else 0 end as severely_disabled
    from members m
    left join deposits d on d.person_key = m.person_key and d.period = m.period
    left join homes_pm h on h.person_key = m.person_key and h.period = m.period
    left join cars_pm c on c.person_key = m.person_key and c.period = m.period
    left join firms_pm f on f.person_key = m.person_key and f.period = m.period
    left join medical md on md.person_key = m.person_key and md.period = m.period
    left join disability dis on dis.person_key = m.person_key
)
select
    household_no, period,
    sum(deposits_yuan) as deposits_yuan,
    max(case when deposits_yuan is not null then 1 else 0 end) as has_bank_data,
    cast(sum(homes) as bigint) as homes,
    max(max_car_value_yuan) as max_car_value_yuan,
    cast(sum(companies) as bigint) as companies,
    max(sole_trader_capital_yuan) as sole_trader_capital_yuan,
    coalesce(sum(out_of_pocket_yuan), 0) as medical_out_of_pocket_yuan,
    cast(sum(severely_disabled) as bigint) as severely_disabled_members
from per_person
group by household_no, period
