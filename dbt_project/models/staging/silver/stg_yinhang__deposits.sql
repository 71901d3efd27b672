with source as (select * from {{ source('silver', 'deposits') }})
select person_key, person_id, period, bank_code, account_no, cast(deposit_balance as double) as deposit_yuan,
       cast(financial_assets as double) as financial_assets_yuan, _batch_key as batch_key
from source
