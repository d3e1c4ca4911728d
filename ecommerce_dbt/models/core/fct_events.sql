{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_week',
        on_schema_change='fail'
    )
}}

{#- The partition window applies on every run (full or incremental), so a window always rebuilds exactly its weeks. -#}
with events_in_window as (
    select *
    from {{ ref('stg_events') }}
    where event_week >= cast('{{ var("min_week") }}' as date)
      and event_week < cast('{{ var("max_week") }}' as date)
)

select
    event_id,
    event_time,
    event_date,
    event_hour,
    event_week,
    event_type,
    product_id,
    category_id,
    category_code,
    category_l1,
    category_l2,
    category_l3,
    brand,
    brand_imputed,
    category_code_imputed,
    price,
    case when event_type = 'purchase' then price else 0 end as revenue,
    user_id,
    user_session
from events_in_window
