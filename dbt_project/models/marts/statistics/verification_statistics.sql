-- 核对业务统计 (VF-7): verification requests by month of submission, responsible county and
-- prefecture, commissioning unit and aid item — how many came in, where they stand, what the
-- assessments found, and how long a report took. Counts only: no request number, member or ID.
with requests as (select * from {{ ref('stg_business__verification_requests') }})
select
    period, prefecture_code, county_code, commissioning_unit, aid_item,
    count(*) as requests,
    count(case when status = 'submitted' then 1 end) as awaiting_receipt,
    count(case when status in ('received', 'verified', 'reviewed') then 1 end) as in_progress,
    count(case when status = 'reported' then 1 end) as reported,
    count(case when status = 'rejected' then 1 end) as rejected,
    count(case when assessment = '符合' then 1 end) as assessed_eligible,
    count(case when assessment = '不符合' then 1 end) as assessed_ineligible,
    count(case when assessment = '需人工复核' then 1 end) as assessed_for_review,
    {{ round_half_up('avg(seconds_to_report) / 3600.0', 1) }} as mean_hours_to_report,
    max(seconds_to_report) as max_seconds_to_report
from requests
group by period, prefecture_code, county_code, commissioning_unit, aid_item
