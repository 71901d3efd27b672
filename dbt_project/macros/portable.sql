{#- Engine-specific pieces, dispatched so the models stay portable (DuckDB here, Spark later). -#}

{% macro age_in_years(birth_date, on_date) -%}
    {#- whole years between two dates; date_diff('year') means something else on Spark -#}
    (extract(year from {{ on_date }}) - extract(year from {{ birth_date }})
     - case when extract(month from {{ on_date }}) * 100 + extract(day from {{ on_date }})
                 < extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
            then 1 else 0 end)
{%- endmacro %}

{% macro month_start(period) -%}
    cast({{ period }} || '-01' as date)
{%- endmacro %}

{% macro month_end(period) -%}
    last_day(cast({{ period }} || '-01' as date))
{%- endmacro %}

{% macro previous_period(period, months) -%}
    {{ return(adapter.dispatch('previous_period')(period, months)) }}
{%- endmacro %}

{% macro default__previous_period(period, months) -%}
    substr(cast(add_months(cast({{ period }} || '-01' as date), -{{ months }}) as string), 1, 7)
{%- endmacro %}

{% macro duckdb__previous_period(period, months) -%}
    strftime(cast({{ period }} || '-01' as date) - interval {{ months }} month, '%Y-%m')
{%- endmacro %}
