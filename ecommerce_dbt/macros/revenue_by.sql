{#-
Monthly revenue per value of one dimension of fct_events, ranked within the month: one row per month and
value with purchases, buyers, revenue (the purchase events' own prices), the value's share of the month's
revenue and its rank (1 = highest revenue, ties broken by the value).

    dimension   the output column, e.g. 'brand'
    expression  the SQL giving its value from fct_events; defaults to the column of the same name,
                e.g. "coalesce(category_l1, 'unknown')"
-#}
{% macro revenue_by(dimension, expression=none) -%}
with purchases as (
    select {{ month_start('event_date') }} as month_start, {{ expression or dimension }} as {{ dimension }}, user_id, revenue
    from {{ ref('fct_events') }}
    where event_type = 'purchase'
),

monthly as (
    select month_start, {{ dimension }}, count(*) as purchases, count(distinct user_id) as buyers, sum(revenue) as revenue
    from purchases
    group by month_start, {{ dimension }}
)

select
    *,
    revenue / sum(revenue) over (partition by month_start) as revenue_share_of_month,
    row_number() over (partition by month_start order by revenue desc, {{ dimension }}) as revenue_rank
from monthly
{%- endmacro %}
