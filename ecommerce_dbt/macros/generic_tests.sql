{#- Generic test: values outside [min_value, max_value] (nulls pass) fail. -#}
{% test within_range(model, column_name, min_value=none, max_value=none) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and (
      {% if min_value is not none %}{{ column_name }} < {{ min_value }}{% else %}false{% endif %}
      or {% if max_value is not none %}{{ column_name }} > {{ max_value }}{% else %}false{% endif %}
  )
{% endtest %}

{#- Generic test: the combination of columns is unique. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Generic test on a dimension: every key a fact (or a weekly part) uses matches exactly one dimension
    row (optionally among rows passing `where`, e.g. current SCD2 versions). Defined on the dimension so it
    runs when the dimension is built, after the facts. The dimensions test against the weekly parts, which
    carry the facts' keys (they group the facts by them) in a fraction of the rows, so the test's cost does
    not grow with the events. -#}
{% test resolves_fact_keys(model, fact, fact_column, key, where=none) %}
with dimension as (
    select {{ key }} as dimension_key, count(*) as n
    from {{ model }}
    {% if where %}where {{ where }}{% endif %}
    group by {{ key }}
),

fact_keys as (
    select distinct {{ fact_column }} as fact_key from {{ fact }} where {{ fact_column }} is not null
)

select fact_keys.fact_key, dimension.n
from fact_keys
left join dimension on fact_keys.fact_key = dimension.dimension_key
where coalesce(dimension.n, 0) <> 1
{% endtest %}

{#- Generic test on the facts: a brand filled in for a product (brand_source 'product') was delivered
    for that same product in the same week; over the run's window. -#}
{% test brand_delivered_for_product(model) %}
with window_events as (
    select product_id, brand, brand_source, event_week from {{ model }} where {{ in_window('event_week') }}
),

filled as (
    select distinct product_id, brand, event_week from window_events where brand_source = 'product'
),

delivered as (
    select distinct product_id, brand, event_week from window_events where brand_source = 'observed'
)

select filled.*
from filled
left join delivered
    on filled.product_id = delivered.product_id and filled.brand = delivered.brand and filled.event_week = delivered.event_week
where delivered.product_id is null
{% endtest %}
