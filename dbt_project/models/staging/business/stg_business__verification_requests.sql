-- 委托核对申请: one row per request; Beijing month of submission, responsible county
with source as (select * from {{ source('business', 'verification_requests') }})
select
    request_no, commissioning_unit, aid_item, status, assessment,
    region_code, substr(region_code, 1, 6) as county_code, substr(region_code, 1, 4) || '00' as prefecture_code,
    {{ beijing_period('created_at') }} as period,
    created_at, updated_at,
    case when status = 'reported' then {{ seconds_between('created_at', 'updated_at') }} end as seconds_to_report
from source
