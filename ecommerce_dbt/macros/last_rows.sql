{#- The last row of each `partition_by` group by `order_by` (compared in that order; end it with a unique
    column so there are no ties), with `columns`. DuckDB finds it in one hash aggregation (max_by over a
    row of the ordering columns), which costs a fraction of the window's sort of every row; other warehouses
    rank the rows with a window. -#}
{% macro last_rows(relation, partition_by, order_by, columns, where) -%}
    {{ return(adapter.dispatch('last_rows')(relation, partition_by, order_by, columns, where)) }}
{%- endmacro %}

{% macro duckdb__last_rows(relation, partition_by, order_by, columns, where) -%}
select {{ partition_by | join(', ') }}{% for column in columns %}, last_row.{{ column }}{% endfor %}
from (
    select
        {{ partition_by | join(', ') }},
        max_by(
            { {%- for column in columns %}'{{ column }}': {{ column }}{% if not loop.last %}, {% endif %}{% endfor -%} },
            ({{ order_by | join(', ') }})
        ) as last_row
    from {{ relation }}
    where {{ where }}
    group by {{ partition_by | join(', ') }}
) as grouped
{%- endmacro %}

{% macro default__last_rows(relation, partition_by, order_by, columns, where) -%}
select {{ (partition_by + columns) | join(', ') }}
from (
    select
        {{ (partition_by + columns) | join(', ') }},
        row_number() over (
            partition by {{ partition_by | join(', ') }}
            order by {% for column in order_by %}{{ column }} desc{% if not loop.last %}, {% endif %}{% endfor %}
        ) as recency
    from {{ relation }}
    where {{ where }}
) as ranked
where recency = 1
{%- endmacro %}
