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
    where {{ in_window('event_week') }}
)

select
    event_id,
    event_time,
    event_date,
    event_hour,
    event_week,
    event_type,
    {{ surrogate_key(['user_id']) }} as user_key,
    {{ surrogate_key(['product_id']) }} as product_key,
    {{ surrogate_key(['category_id']) }} as category_key,
    {{ surrogate_key(['brand']) }} as brand_key,
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
