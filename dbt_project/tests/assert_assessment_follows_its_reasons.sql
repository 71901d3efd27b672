-- catches an assessment that disagrees with its reasons: 不符合 needs a failing reason, 需人工复核 a
-- reason calling for review, and a household with any such reason can never be 符合
with reasons as (
    select household_no, period, max(case when effect = '不符合' then 1 else 0 end) as has_fail,
           max(case when effect = '需人工复核' then 1 else 0 end) as has_review
    from {{ ref('household_assessment_reasons') }} group by household_no, period
)
select p.household_no, p.period, p.assessment
from {{ ref('household_profile') }} p
left join reasons r on r.household_no = p.household_no and r.period = p.period
where (p.assessment = '不符合' and coalesce(r.has_fail, 0) = 0)
   or (p.assessment = '需人工复核' and coalesce(r.has_review, 0) = 0)
   or (p.assessment = '符合' and coalesce(r.has_fail, 0) + coalesce(r.has_review, 0) > 0)
