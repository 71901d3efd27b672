-- 人员: the latest hukou state of each person
with source as (select * from {{ source('silver', 'persons') }})
select
    person_key, person_id, person_name, sex, ethnicity, birth_date, household_no, relation,
    region_code, substr(region_code, 1, 6) as county_code, substr(region_code, 1, 4) || '00' as prefecture_code,
    case when hukou_type = '城镇' then 'urban' else 'rural' end as area_type,
    alive, change_type as last_change_type, change_date as last_change_date
from source
