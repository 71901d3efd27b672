with source as (select * from {{ source('silver', 'vehicles') }})
select plate_no, person_key, person_id, vehicle_type,
       vehicle_type in ('普通二轮摩托车', '残疾人机动轮椅车') as asset_exempt,
       first_registration_date, cast(vehicle_value as double) as vehicle_value_yuan, vehicle_status,
       _batch_key as batch_key, _period as delivery_period
from source
