{#- A view: the events are stored once, in the lake's clean files (raw.events reads them on DuckDB). The
readers filter by week, which reaches the files' row groups through the view. -#}
{{ config(materialized='view') }}

with events as (
    select * from {{ ref('stg_events') }}
),

confirmed_remaps as (
    select observed_category_id, valid_from, valid_to, canonical_category_id, canonical_category_code
    from {{ ref('category_remaps') }}
    where status = 'confirmed'
),

{#- The canonical category: the reviewed remap in force on the event's date, else the category as delivered. -#}
resolved as (
    select
        events.*,
        confirmed_remaps.canonical_category_id,
        confirmed_remaps.canonical_category_code
    from events
    left join confirmed_remaps
        on events.category_id = confirmed_remaps.observed_category_id
        and events.event_date >= confirmed_remaps.valid_from
        and (confirmed_remaps.valid_to is null or events.event_date < confirmed_remaps.valid_to)
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
