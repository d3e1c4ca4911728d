{{ config(unique_key='event_week') }}

{#- Per week, product, category (delivered and canonical), delivered code and brand: counts and dates. dim_categories, dim_brands and int_category_moves aggregate it. -#}
select
    event_week,
    product_id,
    observed_category_id,
    category_id,
    category_key,
    category_remapped,
    observed_category_code,
    category_code_source = 'observed' as category_code_delivered,
    brand,
    brand_key,
    min(event_date) as first_date,
    max(event_date) as last_date,
    count(*) as events,
    sum(revenue) as revenue
from {{ ref('fct_events') }}
where {{ in_window('event_week') }}
group by
    event_week, product_id, observed_category_id, category_id, category_key, category_remapped,
    observed_category_code, category_code_source = 'observed', brand, brand_key
