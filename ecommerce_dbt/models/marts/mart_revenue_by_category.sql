{{ config(materialized='incremental', unique_key='month_start') }}
{%- do ref('int_weeks_built') -%}  {#- a dependency however the model runs: the week stamps (changed_weeks, the watermark post-hook) -#}

{#- Canonical categories (fct_events.category_*): remapped smartphones count as electronics.smartphone. -#}
{{ revenue_by({'category_l1': "coalesce(category_l1, 'unknown')", 'category_code': "coalesce(category_code, 'unknown')"}) }}
