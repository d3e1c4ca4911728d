{{ config(materialized='incremental', unique_key='session_week') }}
{%- do ref('int_weeks_built') -%}  {#- a dependency however the model runs: the week stamps (changed_weeks, the watermark post-hook) -#}

{#- A product carted in a session and not purchased in that same session. -#}
with pairs as (
    select * from {{ ref('int_session_products') }}
    where session_week in ({{ changed_weeks() }})
)

select
    user_session as session_id,
    product_id,
    session_week,
    user_id,
    first_cart_time,
    cast(first_cart_time as date) as cart_date,
    {{ month_start('first_cart_time') }} as month_start,
    cart_price,
    brand,
    category_l1
from pairs
where carted = 1 and purchased = 0
