with source as (select * from {{ source('silver', 'assistance_roster') }})
select
    person_key, person_id, household_no, aid_item,
    case when aid_item in ('城市低保', '农村低保') then 'dibao'
         when aid_item in ('城市特困', '农村特困') then 'tekun'
         when aid_item = '低保边缘' then 'margin'
         else 'temporary' end as aid_category,
    relation, region_code, start_date, cast(household_size as integer) as household_size,
    cast(monthly_amount as double) as household_amount_yuan, period, _batch_key as batch_key
from source
