with source as (select * from {{ source('silver', 'monitoring_targets') }})
select person_key, person_id, household_head_id, target_type, risk_cause, identified_date, monitoring_status,
       _batch_key as batch_key
from source
