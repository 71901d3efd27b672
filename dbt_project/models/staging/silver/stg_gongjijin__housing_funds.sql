with source as (select * from {{ source('silver', 'housing_fund') }})
select person_key, person_id, period, employer_type, cast(contribution_base as double) as contribution_base_yuan,
       cast(monthly_contribution as double) as monthly_contribution_yuan, _batch_key as batch_key
from source
