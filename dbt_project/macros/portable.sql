{#- Engine-specific pieces, dispatched so the models stay portable (DuckDB here, Spark later). -#}

{% macro age_in_years(birth_date, on_date) -%}
    {#- whole years between two dates; date_diff('year') means something else on Spark -#}
    {#- a bigint on every engine (extract gives bigint on DuckDB, int on Spark) -#}
    cast(extract(year from {{ on_date }}) - extract(year from {{ birth_date }})
         - case when extract(month from {{ on_date }}) * 100 + extract(day from {{ on_date }})
                     < extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
                then 1 else 0 end as bigint)
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

{% macro register_delta_sources() -%}
    {#- On a Spark-compatible engine the silver Delta tables are registered as external tables
        (CREATE TABLE … USING delta LOCATION …) before the models run; dbt-duckdb's delta plugin
        does the same for DuckDB by itself. -#}
    {{ return(adapter.dispatch('register_delta_sources')()) }}
{%- endmacro %}

{% macro default__register_delta_sources() -%}
    select 1
{%- endmacro %}

{% macro spark__register_delta_sources() -%}
    {%- if execute -%}
    {%- set schemas = [] -%}
    {%- for node in graph.sources.values() if node.meta.get('delta_table_path') -%}
        {%- if node.schema not in schemas -%}
            {%- do run_query('create schema if not exists ' ~ node.schema) -%}
            {%- do schemas.append(node.schema) -%}
        {%- endif -%}
        {%- do run_query('create table if not exists ' ~ node.schema ~ '.' ~ node.identifier
                         ~ " using delta location '" ~ node.meta['delta_table_path'] ~ "'") -%}
    {%- endfor -%}
    {#- and the models written by earlier runs (jiuzhu.engines lists them), so that an incremental
        run appends to them: an embedded Sail's catalog starts empty with each run -#}
    {%- set written = var('spark_written_marts', []) -%}
    {%- if written -%}
        {%- do run_query('create schema if not exists ' ~ target.schema) -%}
    {%- endif -%}
    {%- for name in written -%}
        {%- do run_query('create table if not exists ' ~ target.schema ~ '.' ~ name ~ " using delta location '"
                         ~ env_var('JIUZHU_SPARK_WAREHOUSE', env_var('JIUZHU_HOME', 'var') ~ '/spark-warehouse') ~ '/' ~ name ~ "'") -%}
    {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{% macro number_text(expr, scale) -%}
    {#- an amount or count as text for a reason: fixed decimals, the same on every engine (a double
        cast to text reads 1.23E7 on Spark, 12300000.0 on DuckDB) -#}
    cast(cast({{ round_half_up(expr, scale) }} as decimal(18, {{ scale }})) as string)
{%- endmacro %}

{% macro monthly_increment() -%}
    {#- config of the monthly marts: a run rebuilds the months from var('from_period') to
        var('to_period') and keeps the others -#}
    {{ return(adapter.dispatch('monthly_increment')()) }}
{%- endmacro %}

{% macro in_build_months(column) -%}
    {#- the months a run builds: var('from_period') to var('to_period') (default: every month from
        from_period on). A history too large to build at once is built in chunks of months, in order
        (`jiuzhu.engines.month_chunks`); a chunk reads the months before it from the tables built -#}
    {{ column }} >= '{{ var("from_period") }}' and {{ column }} <= '{{ var("to_period") }}'
{%- endmacro %}

{% macro default__monthly_increment() -%}
    {#- a model that gains a column adds it to the table: the rebuilt months carry it, earlier months
        keep what they were assessed with (`dbt build --full-refresh` re-assesses the history) -#}
    {{ return({'materialized': 'incremental', 'incremental_strategy': 'delete+insert', 'unique_key': 'period',
               'on_schema_change': 'append_new_columns'}) }}
{%- endmacro %}

{% macro spark__monthly_increment() -%}
    {#- dbt-spark has no delete+insert: delete the rebuilt months, then append them (Delta DELETE).
        Not partitioned by period: Spark moves a partition column to the end of the table, and the
        marts keep one column order on every engine (Delta's file statistics prune the DELETE). -#}
    {#- no on_schema_change here: dbt-spark reads the target's columns from DESCRIBE, which it
        cannot parse on Sail (it would see every table as changed). A model that gained a column
        fails its positional append instead: rebuild it with --full-refresh on this target -#}
    {{ return({'materialized': 'incremental', 'incremental_strategy': 'append',
               'pre_hook': "{% if is_incremental() %}delete from {{ this }} where {{ in_build_months('period') }}{% endif %}"}) }}
{%- endmacro %}

{% macro round_half_up(expr, digits) -%}
    {#- 四舍五入 of a double on its decimal value, the same on every engine: DuckDB's round() works on
        the binary value (3176.1 / 4 = 794.025 → 794.02), Spark's on the decimal text (→ 794.03).
        The 1e-6 guard absorbs the binary error of values that are exact halves in decimal. -#}
    (floor(({{ expr }}) * {{ 10 ** digits }} + 0.5 + 1e-6) / {{ 10 ** digits }})
{%- endmacro %}

{% macro get_insert_into_sql(source_relation, target_relation) -%}
    {#- dbt-spark's append lists the target's columns from DESCRIBE EXTENDED, which it cannot parse
        on Sail (it finds none); the increment has the model's own columns in the model's order -#}
    insert into table {{ target_relation }}
    select * from {{ source_relation }}
{%- endmacro %}

{% macro epoch_seconds(ts) -%}
    {#- seconds since 1970-01-01 UTC of a timestamp (an instant: independent of the session's zone) -#}
    {{ return(adapter.dispatch('epoch_seconds')(ts)) }}
{%- endmacro %}

{% macro default__epoch_seconds(ts) -%}
    unix_timestamp({{ ts }})
{%- endmacro %}

{% macro duckdb__epoch_seconds(ts) -%}
    epoch({{ ts }})
{%- endmacro %}

{% macro beijing_period(ts) -%}
    {#- the month (YYYY-MM) of a timestamp in Beijing time (UTC+8, no daylight saving), by day
        arithmetic on the instant: no engine's session time zone takes part -#}
    substr(cast(cast('1970-01-01' as date) + cast(floor(({{ epoch_seconds(ts) }} + 28800) / 86400) as integer) as string), 1, 7)
{%- endmacro %}

{% macro seconds_between(start, finish) -%}
    cast({{ epoch_seconds(finish) }} - {{ epoch_seconds(start) }} as bigint)
{%- endmacro %}
