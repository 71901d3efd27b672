-- 户籍数据缺项: households with a member's hukou row quarantined by the exchange and not corrected
-- since (from since_period on, the household's members may be incomplete)
with source as (select * from {{ source('silver', 'quarantined_members') }})
select household_no, since_period, member_rows, reason_codes
from source
