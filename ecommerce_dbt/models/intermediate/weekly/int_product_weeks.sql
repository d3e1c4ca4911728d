{{ config(unique_key='event_week') }}

{#- Per week, product, category (delivered and canonical), delivered code and brand: counts and dates. dim_categories, dim_brands and int_category_moves aggregate it. The keys are computed on the grouped rows, not per event. -#}
with grouped as (
    select
        event_week,
        product_id,
        observed_category_id,
        category_id,
        category_remapped,
        observed_category_code,
        category_code_source = 'observed' as category_code_delivered,
        brand,
        min(event_date) as first_date,
        max(event_date) as last_date,
        count(*) as events,
        sum(revenue) as revenue
    from {{ ref('fct_events') }}
    where {{ in_window('event_week') }}
    group by
        event_week, product_id, observed_category_id, category_id, category_remapped,
        observed_category_code, category_code_source = 'observed', brand
)

select
    event_week,
    product_id,
    observed_category_id,
    category_id,
    {{ surrogate_key(['observed_category_id', 'category_id']) }} as category_key,
    category_remapped,
    observed_category_code,
    category_code_delivered,
    brand,
    {{ surrogate_key(['brand']) }} as brand_key,
    first_date,
    last_date,
    events,
    revenue
from grouped
