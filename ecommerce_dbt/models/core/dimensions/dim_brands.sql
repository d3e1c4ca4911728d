{#- Built from the weekly parts (int_product_weeks), not the events. -#}
with parts as (
    select brand, brand_key, product_id, first_date, last_date, events, revenue
    from {{ ref('int_product_weeks') }}
)

select
    brand_key,
    brand,
    brand = 'unknown' as is_unknown,
    count(distinct product_id) as products,
    min(first_date) as first_seen_date,
    max(last_date) as last_seen_date,
    sum(events) as events,
    sum(revenue) as revenue
from parts
group by brand_key, brand
