{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='month_start', post_hook=["{{ forget_watermark() }}", "{{ record_watermark() }}"]) }}

{{ revenue_by({'brand': 'brand'}) }}
