-- catches a region, area and aid item with two standards in force on one day (overlap) or none
-- for a month of 2024-2026 at prefecture level (gap): a family would be assessed against nothing
with s as (select * from {{ ref('stg_policy__standards') }}),
overlapping as (
    select a.region_code, a.area_type, a.aid_item, a.effective_from
    from s a join s b
      on a.region_code = b.region_code and a.area_type = b.area_type and a.aid_item = b.aid_item
     and a.effective_from < b.effective_from and a.effective_to >= b.effective_from
),
prefectures as (
    select distinct prefecture_code from {{ ref('stg_reference__regions') }} where region_level = 2
),
months as (
    select distinct cast(period || '-01' as date) as day from {{ ref('stg_minzheng__assistance_rosters') }}
),
gaps as (
    select p.prefecture_code as region_code, a.area_type, 'dibao' as aid_item, m.day as effective_from
    from prefectures p cross join months m cross join (select 'urban' as area_type union all select 'rural') a
    where not exists (
        select 1 from s where s.region_code = p.prefecture_code and s.area_type = a.area_type
          and s.aid_item = 'dibao' and m.day between s.effective_from and s.effective_to)
)
select * from overlapping
union all
select * from gaps
