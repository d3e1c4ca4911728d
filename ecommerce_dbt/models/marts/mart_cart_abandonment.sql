{#- A product carted in a session and not purchased in that same session. -#}
with pairs as (
    select
        user_session,
        product_id,
        min(user_id) as user_id,
        min(case when event_type = 'cart' then event_time end) as first_cart_time,
        max(case when event_type = 'cart' then price end) as cart_price,
        min(brand) as brand,
        min(category_l1) as category_l1,
        max(case when event_type = 'cart' then 1 else 0 end) as carted,
        max(case when event_type = 'purchase' then 1 else 0 end) as purchased
    from {{ ref('fct_events') }}
    where user_session is not null
    group by user_session, product_id
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
