-- 公安户籍变动: one row per hukou event (snapshot rows are change_type 全量)
with source as (select * from {{ source('silver', 'hukou_events') }})
select
    person_key, person_id, person_name, sex, ethnicity, birth_date, household_no, relation,
    region_code, hukou_type, change_type, change_date, _batch_key as batch_key, _period as delivery_period
from source
