with source as (select * from {{ source('silver', 'deaths') }})
select person_key, person_id, death_date, region_code, death_cause, _batch_key as batch_key
from source
