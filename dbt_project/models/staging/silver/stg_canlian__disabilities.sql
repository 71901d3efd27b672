with source as (select * from {{ source('silver', 'disability') }})
select certificate_no, person_key, person_id, disability_type, disability_grade,
       case disability_grade when '一级' then 1 when '二级' then 2 when '三级' then 3 else 4 end as grade_number,
       issue_date, certificate_status, _batch_key as batch_key
from source
