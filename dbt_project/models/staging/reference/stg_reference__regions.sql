with source as (
    select * from {{ source('reference', 'regions') }}
),

renamed as (
    select
        region_code,
        short_code,
        gb2260_code,
        name as region_name,
        full_name as region_full_name,
        cast(level as integer) as region_level,
        parent_code as parent_region_code,
        prefecture_code,
        county_code,
        unit_type,
        urban_rural
    from source
)

select * from renamed
