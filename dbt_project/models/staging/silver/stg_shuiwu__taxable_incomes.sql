with source as (select * from {{ source('silver', 'taxable_income') }})
select person_key, person_id, period, income_type, cast(income_amount as double) as income_yuan,
       cast(tax_paid as double) as tax_paid_yuan, _batch_key as batch_key
from source
