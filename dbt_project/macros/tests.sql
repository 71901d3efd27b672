{#- Generic tests written here (dbt deps cannot reach its hub, so no dbt_utils). -#}

{% test dbt_utils_free_unique_combination(model, columns) %}
-- catches two rows for the same combination (e.g. a household counted twice in one month)
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test non_negative(model, column_name) %}
-- catches a negative amount or count, which no rule allows
select * from {{ model }} where {{ column_name }} < 0
{% endtest %}
