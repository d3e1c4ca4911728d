{{ config(materialized='incremental', unique_key='product_id') }}
{%- do ref('int_weeks_built') -%}  {#- a dependency however the model runs: the week stamps (changed_weeks, the watermark post-hook) -#}

{#-
Type-2 price history: a new version starts whenever a product's price changes from one second to the
next (zero prices included, as delivered). Events carry whole seconds, and the full data has products seen
at two prices within one second: the second's price is that of its last event (by event_id), so versions
never share a valid_from. Current attributes (brand, canonical category) are the latest seen. A refresh
recomputes the products seen in the changed weeks from their weekly price points (int_product_prices).
-#}
with points as (
    {{ parts_of_changed_keys(ref('int_product_prices'), 'product_id') }}
),

changes as (
    select *, lag(price) over (partition by product_id order by event_time) as previous_price
    from points
),

versions as (
    select product_id, product_key, price, event_time as valid_from
    from changes
    where previous_price is null or previous_price <> price
),

latest as (
    select product_id, brand, observed_category_id, category_id, category_code
    from (
        select *, row_number() over (partition by product_id order by event_time desc, event_id desc) as recency
        from ({{ parts_of_changed_keys(ref('int_product_latest'), 'product_id') }}) as last_events
    ) as ranked
    where recency = 1
)

select
    {{ surrogate_key(['versions.product_id', 'versions.valid_from']) }} as product_version_key,
    versions.product_key,
    versions.product_id,
    versions.price,
    versions.valid_from,
    lead(versions.valid_from) over (partition by versions.product_id order by versions.valid_from) as valid_to,
    lead(versions.valid_from) over (partition by versions.product_id order by versions.valid_from) is null as is_current,
    latest.brand,
    {{ surrogate_key(['latest.brand']) }} as brand_key,
    latest.category_id,
    {{ surrogate_key(['latest.observed_category_id', 'latest.category_id']) }} as category_key,
    latest.category_code
from versions
inner join latest on versions.product_id = latest.product_id
