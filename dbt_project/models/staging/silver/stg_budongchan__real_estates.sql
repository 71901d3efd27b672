with source as (select * from {{ source('silver', 'real_estate') }})
select certificate_no, person_key, person_id, region_code, usage, cast(area_m2 as double) as area_m2,
       registration_date, change_type, _batch_key as batch_key, _period as delivery_period
from source
