{#-
Monthly revenue per value of some dimensions of fct_events, ranked within the month: one row per month and
combination with purchases, buyers, revenue (the purchase events' own prices), the combination's share of
the month's revenue and its rank (1 = highest revenue, ties broken by the values). Called from an
incremental model keyed by month_start: a refresh recomputes the months the changed weeks touch.

    dimensions  output column -> the SQL giving its value from fct_events, in order,
                e.g. {'category_l1': "coalesce(category_l1, 'unknown')", 'category_code': 'category_code'}
-#}
{% macro revenue_by(dimensions) -%}
{%- set names = dimensions.keys() | list -%}
with purchases as (
    select
        {{ month_start('event_date') }} as month_start,
        {%- for name, expression in dimensions.items() %}
        {{ expression }} as {{ name }},
        {%- endfor %}
        user_id,
        revenue
    from {{ ref('fct_events') }}
    where event_type = 'purchase'
      and {{ month_start('event_date') }} in ({{ changed_months() }})
),

monthly as (
    select month_start, {{ names | join(', ') }}, count(*) as purchases, count(distinct user_id) as buyers, sum(revenue) as revenue
    from purchases
    group by month_start, {{ names | join(', ') }}
)

select
    *,
    revenue / sum(revenue) over (partition by month_start) as revenue_share_of_month,
    row_number() over (partition by month_start order by revenue desc, {{ names | join(', ') }}) as revenue_rank
from monthly
{%- endmacro %}
