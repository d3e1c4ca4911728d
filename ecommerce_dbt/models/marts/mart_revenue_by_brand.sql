{{ config(materialized='incremental', unique_key='month_start') }}
{%- do ref('int_weeks_built') -%}  {#- a dependency however the model runs: the week stamps (changed_weeks, the watermark post-hook) -#}

{{ revenue_by({'brand': 'brand'}) }}
