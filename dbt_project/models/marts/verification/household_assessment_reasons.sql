{{ config(**monthly_increment()) }}
-- Every reason behind an assessment, citing the department whose data shows it and the data month.
with p as (select * from {{ ref('household_profile') }} where {{ in_build_months('period') }})
select household_no, period, 'INCOME_ABOVE_STANDARD' as reason_code,
       case when review_members_incomplete = 1 then '需人工复核' else '不符合' end as effect, 'renshe,shuiwu' as departments,
       '家庭月人均收入' || {{ number_text('income_per_capita_yuan', 2) }} || '元,不低于当地低保标准' || {{ number_text('standard_yuan', 2) }} || '元' as reason_zh
from p where fails_income = 1
union all
select household_no, period, 'DEPOSITS_OVER_LIMIT', case when review_members_incomplete = 1 then '需人工复核' else '不符合' end,
       'yinhang',
       '家庭人均存款及金融资产' || {{ number_text('deposits_yuan / members', 0) }} || '元,超过低保标准的' || {{ number_text('deposit_months', 0) }} || '倍'
from p where fails_deposits = 1
union all
select household_no, period, 'HOMES_OVER_LIMIT', '不符合', 'budongchan',
       '家庭登记住房' || {{ number_text('homes', 0) }} || '套,超过规定套数'
from p where fails_homes = 1
union all
select household_no, period, 'VEHICLE_OVER_LIMIT', '不符合', 'cheliang',
       '家庭成员名下机动车估值' || {{ number_text('max_car_value_yuan', 0) }} || '元,超过' || {{ number_text('vehicle_max', 0) }} || '元'
from p where fails_vehicle = 1
union all
select household_no, period, 'COMPANY_OWNER', '不符合', 'shichang', '家庭成员为存续公司的法定代表人'
from p where fails_company = 1
union all
select household_no, period, 'PUBLIC_PAYROLL', '不符合', 'renshe,gongjijin', '家庭成员为财政供养人员'
from p where fails_payroll = 1
union all
select household_no, period, 'SOLE_TRADER_LARGE', '需人工复核', 'shichang',
       '家庭成员经营的个体工商户注册资金' || {{ number_text('sole_trader_capital_yuan', 0) }} || '元,需核实经营收入'
from p where review_trader = 1
union all
select household_no, period, 'MEMBER_DECEASED', '需人工复核', 'siwang,gongan', '家庭成员本月死亡,需核实家庭人口'
from p where review_death = 1
union all
select household_no, period, 'MEMBERS_INCOMPLETE', '需人工复核', 'gongan',
       '户籍数据中有' || {{ number_text('quarantined_member_rows', 0) }} || '条家庭成员记录未通过校验(已退回公安部门更正),家庭人口可能不全,人均收入与人均资产需人工复核'
from p where review_members_incomplete = 1
