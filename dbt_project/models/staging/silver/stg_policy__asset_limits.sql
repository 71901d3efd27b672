with source as (select * from {{ source('silver', 'policy_asset_limits') }})
select limit_code, aid_item, description_zh, cast(value as double) as limit_value, unit,
       cast(effective_from as date) as effective_from, cast(effective_to as date) as effective_to, source
from source
