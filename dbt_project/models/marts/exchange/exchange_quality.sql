-- 交换质量: per department and delivery month — rows delivered, accepted, rejected, replays, lateness.
with b as (select * from {{ ref('stg_exchange__batches') }})
select
    department, period,
    count(case when status <> 'duplicate' then 1 end) as batches,
    count(case when status = 'duplicate' then 1 end) as replays,
    count(case when status = 'rejected' then 1 end) as refused_batches,
    cast(sum(case when status <> 'duplicate' then delivered else 0 end) as bigint) as delivered,
    cast(sum(case when status <> 'duplicate' then accepted else 0 end) as bigint) as accepted,
    cast(sum(case when status <> 'duplicate' then rejected else 0 end) as bigint) as rejected,
    max(case when status <> 'duplicate' and substr(delivered_at, 1, 10) > due_date then 1 else 0 end) as delivered_late
from b
group by department, period
