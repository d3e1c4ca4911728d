with events as (
    select brand, brand_key, brand_imputed, product_id, event_date, revenue
    from {{ ref('fct_events') }}
)

select
    brand_key,
    brand,
    brand = 'unknown' as is_unknown,
    count(distinct product_id) as products,
    min(event_date) as first_seen_date,
    max(event_date) as last_seen_date,
    count(*) as events,
    sum(revenue) as revenue
from events
group by brand_key, brand
