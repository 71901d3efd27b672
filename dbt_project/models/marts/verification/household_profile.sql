{{ config(**monthly_increment()) }}
-- 核对画像: one row per household and month — members, income by category, per-capita income,
-- assets, flags, the local dibao standard and the assessment (符合 / 不符合 / 需人工复核).
-- The rules are data (stg_policy__*); this model is the one definition of the assessment, used by
-- the batch marts and, filtered to one household, by the on-demand verification.
with members as (select * from {{ ref('int_household_members_monthly_joined') }} where {{ in_build_months('period') }}),
household_place as (
    select household_no, period,
           max(case when relation = '02' then county_code end) as head_county,
           min(county_code) as any_county,
           max(case when relation = '02' then area_type end) as head_area,
           min(area_type) as any_area,
           max(case when died_on is not null and died_on >= {{ month_start('period') }} then 1 else 0 end) as member_died
    from members group by household_no, period
),
income as (select * from {{ ref('int_household_income_aggregated') }} where {{ in_build_months('period') }}),
assets as (select * from {{ ref('int_household_assets_aggregated') }} where {{ in_build_months('period') }}),
quarantined as (select * from {{ ref('stg_gongan__quarantined_members') }}),
standards as (select * from {{ ref('stg_policy__standards') }} where aid_item = 'dibao'),
limits as (
    select
        max(case when limit_code = 'deposits_per_capita_months' then limit_value end) as deposit_months,
        max(case when limit_code = 'vehicle_max_value' then limit_value end) as vehicle_max,
        max(case when limit_code = 'homes_max' then limit_value end) as homes_max,
        max(case when limit_code = 'sole_trader_capital_max' then limit_value end) as trader_max
    from {{ ref('stg_policy__asset_limits') }}
),
placed as (
    select i.*, coalesce(p.head_county, p.any_county) as county_code, coalesce(p.head_area, p.any_area) as area_type,
           p.member_died
    from income i join household_place p on p.household_no = i.household_no and p.period = i.period
),
standard_candidates as (
    -- the most specific standard in force: county, then prefecture, then the provincial floor
    select pl.household_no, pl.period, s.amount_yuan, s.source as standard_source,
           row_number() over (partition by pl.household_no, pl.period order by s.trailing_zeros) as rn
    from placed pl
    join standards s
      on s.area_type = pl.area_type
     and s.region_code in (pl.county_code, substr(pl.county_code, 1, 4) || '00', '510000')
     and {{ month_start('pl.period') }} between s.effective_from and s.effective_to
),
profile as (
    select
        pl.household_no, pl.period, pl.county_code, pl.area_type, pl.members,
        pl.wage_yuan, pl.business_yuan, pl.pension_yuan, pl.unemployment_benefit_yuan, pl.counted_income_yuan,
        {{ round_half_up('pl.counted_income_yuan / pl.members', 2) }} as income_per_capita_yuan,
        sc.amount_yuan as standard_yuan, sc.standard_source,
        a.deposits_yuan, coalesce(a.has_bank_data, 0) as has_bank_data, coalesce(a.homes, 0) as homes,
        a.max_car_value_yuan, coalesce(a.companies, 0) as companies, a.sole_trader_capital_yuan,
        coalesce(a.medical_out_of_pocket_yuan, 0) as medical_out_of_pocket_yuan,
        coalesce(a.severely_disabled_members, 0) as severely_disabled_members,
        pl.has_public_payroll, pl.has_unemployed, pl.has_income_data, pl.member_died,
        coalesce(q.member_rows, 0) as quarantined_member_rows,
        l.deposit_months, l.vehicle_max, l.homes_max, l.trader_max
    from placed pl
    join standard_candidates sc on sc.household_no = pl.household_no and sc.period = pl.period and sc.rn = 1
    left join assets a on a.household_no = pl.household_no and a.period = pl.period
    -- a member's hukou row quarantined by the exchange from that month on and not corrected since
    left join quarantined q on q.household_no = pl.household_no and q.since_period <= pl.period
    cross join limits l
),
flagged as (
    select
        p.*,
        case when income_per_capita_yuan >= standard_yuan then 1 else 0 end as fails_income,
        case when deposits_yuan / members > deposit_months * standard_yuan then 1 else 0 end as fails_deposits,
        case when homes > homes_max then 1 else 0 end as fails_homes,
        case when max_car_value_yuan > vehicle_max then 1 else 0 end as fails_vehicle,
        case when companies > 0 then 1 else 0 end as fails_company,
        case when has_public_payroll = 1 then 1 else 0 end as fails_payroll,
        case when sole_trader_capital_yuan > trader_max then 1 else 0 end as review_trader,
        case when member_died = 1 then 1 else 0 end as review_death,
        case when quarantined_member_rows > 0 then 1 else 0 end as review_members_incomplete
    from profile p
)
select
    f.*,
    fails_income + fails_deposits + fails_homes + fails_vehicle + fails_company + fails_payroll as failed_rules,
    review_trader + review_death + review_members_incomplete as review_rules,
    -- per-capita rules (income, deposits) depend on the members counted: with a member's row
    -- missing they call for review, not refusal; the household-level rules stand either way
    case when fails_homes + fails_vehicle + fails_company + fails_payroll > 0 then '不符合'
         when fails_income + fails_deposits > 0 and review_members_incomplete = 0 then '不符合'
         when fails_income + fails_deposits + review_trader + review_death + review_members_incomplete > 0
              then '需人工复核'
         else '符合' end as assessment
from flagged f
