-- catches a batch where delivered rows differ from accepted + rejected: the exchange lost or
-- double-counted rows
select * from {{ ref('stg_exchange__batches') }}
where status <> 'duplicate' and delivered <> accepted + rejected
