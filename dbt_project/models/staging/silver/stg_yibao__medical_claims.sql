with source as (select * from {{ source('silver', 'medical_claims') }})
select claim_id, person_key, person_id, settlement_date,
       substr(cast(settlement_date as string), 1, 7) as period, visit_type, hospital_level,
       cast(total_cost as double) as total_cost_yuan, cast(out_of_pocket as double) as out_of_pocket_yuan,
       cast(assistance_paid as double) as assistance_paid_yuan, diagnosis_category, _batch_key as batch_key
from source
