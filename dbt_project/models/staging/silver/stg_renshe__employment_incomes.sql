with source as (select * from {{ source('silver', 'employment_income') }})
select
    person_key, person_id, period, employment_status, employer_type,
    cast(wage as double) as wage_yuan, cast(pension as double) as pension_yuan,
    cast(unemployment_benefit as double) as unemployment_benefit_yuan, record_type, _batch_key as batch_key
from source
