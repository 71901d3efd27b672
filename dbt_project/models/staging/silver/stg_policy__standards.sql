with source as (select * from {{ source('silver', 'policy_standards') }})
select region_code, area_type, aid_item, cast(effective_from as date) as effective_from,
       cast(effective_to as date) as effective_to, cast(amount_yuan as double) as amount_yuan, source, source_note,
       length(region_code) - length(trim(trailing '0' from region_code)) as trailing_zeros
from source
