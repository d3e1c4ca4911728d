{#- Generic test: rows for which `expression` is false or null fail (the hub's dbt_utils is not reachable). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
