with source as (select * from {{ source('silver', 'businesses') }})
select uscc, entity_name, entity_type, person_key, person_id, cast(registered_capital as double) as registered_capital_yuan,
       established_date, registration_status, region_code, _batch_key as batch_key, _period as delivery_period
from source
