{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='month_start', post_hook=["{{ forget_watermark() }}", "{{ record_watermark() }}"]) }}
{%- do ref('fct_weeks') -%}  {#- a dependency however the model runs: the week stamps (changed_weeks, the watermark post-hook) -#}

{{ revenue_by({'brand': 'brand'}) }}
