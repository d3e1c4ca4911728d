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
),

confirmed_remaps as (
    select observed_category_id, valid_from, valid_to, canonical_category_id, canonical_category_code
    from {{ ref('category_remaps') }}
    where status = 'confirmed'
),

{#- The canonical category: the reviewed remap in force on the event's date, else the category as delivered. -#}
resolved as (
    select
        events_in_window.*,
        confirmed_remaps.canonical_category_id,
        confirmed_remaps.canonical_category_code
    from events_in_window
    left join confirmed_remaps
        on events_in_window.category_id = confirmed_remaps.observed_category_id
        and events_in_window.event_date >= confirmed_remaps.valid_from
        and (confirmed_remaps.valid_to is null or events_in_window.event_date < confirmed_remaps.valid_to)
)

select
    event_id,
    event_time,
    event_date,
    event_hour,
    event_week,
    event_type,
    product_id,
    coalesce(canonical_category_id, category_id) as category_id,
    coalesce(canonical_category_code, category_code) as category_code,
    {%- for level in (1, 2, 3) %}
    case
        when canonical_category_id is null then category_l{{ level }}
        else nullif(split_part(canonical_category_code, '.', {{ level }}), '')
    end as category_l{{ level }},
    {%- endfor %}
    canonical_category_id is not null as category_remapped,
    category_id as observed_category_id,
    category_code as observed_category_code,
    category_code_imputed,
    category_code_source,
    brand,
    brand_imputed,
    brand_source,
    price,
    case when event_type = 'purchase' then price else 0 end as revenue,
    user_id,
    user_session
from resolved
