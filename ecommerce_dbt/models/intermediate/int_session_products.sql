{#- One row per session x product pair: what the session did with the product. Funnel and cart abandonment read it. -#}
select
    user_session,
    product_id,
    min(user_id) as user_id,
    min(event_date) as first_event_date,
    min(case when event_type = 'cart' then event_time end) as first_cart_time,
    max(case when event_type = 'cart' then price end) as cart_price,
    min(brand) as brand,
    min(category_l1) as category_l1,
    max(case when event_type = 'view' then 1 else 0 end) as viewed,
    max(case when event_type = 'cart' then 1 else 0 end) as carted,
    max(case when event_type = 'purchase' then 1 else 0 end) as purchased
from {{ ref('fct_events') }}
where user_session is not null
group by user_session, product_id
