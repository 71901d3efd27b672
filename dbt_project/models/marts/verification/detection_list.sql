{{ config(**monthly_increment()) }}
-- 检出名单: current recipients (dibao and tekun on the roll in the month) whose assessment fails
-- or needs review, with the reasons, by county, for the responsible county to re-verify.
with roll as (
    select household_no, period, min(aid_category) as aid_category, min(aid_item) as aid_item,
           min(substr(region_code, 1, 6)) as county_code, max(household_amount_yuan) as household_amount_yuan
    from {{ ref('stg_minzheng__assistance_rosters') }}
    where aid_category in ('dibao', 'tekun')
    group by household_no, period
),
p as (select * from {{ ref('household_profile') }} where {{ in_build_months('period') }})
select
    r.period, r.county_code, r.household_no, r.aid_category, r.aid_item, r.household_amount_yuan,
    p.assessment, p.failed_rules, p.review_rules, p.income_per_capita_yuan, p.standard_yuan
from roll r
join p on p.household_no = r.household_no and p.period = r.period
where p.assessment <> '符合'
