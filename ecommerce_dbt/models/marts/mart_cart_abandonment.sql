{#- A product carted in a session and not purchased in that same session. -#}
with pairs as (
    select * from {{ ref('int_session_products') }}
)

select
    user_session as session_id,
    product_id,
    user_id,
    first_cart_time,
    cast(first_cart_time as date) as cart_date,
    {{ month_start('first_cart_time') }} as month_start,
    cart_price,
    brand,
    category_l1
from pairs
where carted = 1 and purchased = 0
