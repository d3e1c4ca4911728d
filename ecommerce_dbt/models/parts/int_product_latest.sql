{{ config(unique_key='event_week') }}

{#- Per week and product, the attributes of its last event (by time, then event_id): dim_products takes the latest week's. -#}
select event_week, product_id, event_time, event_id, brand, observed_category_id, category_id, category_code
from (
    select
        event_week, product_id, event_time, event_id, brand, observed_category_id, category_id, category_code,
        row_number() over (partition by product_id, event_week order by event_time desc, event_id desc) as recency
    from {{ ref('fct_events') }}
    where {{ in_window('event_week') }}
) as ranked
where recency = 1
