{#- Population: a session x product pair (a product a session touched), and the users behind the pairs. -#}
with pairs as (
    select
        user_session,
        product_id,
        min(user_id) as user_id,
        {{ month_start('min(event_date)') }} as month_start,
        min(category_l1) as category_l1,
        min(brand) as brand,
        max(case when event_type = 'view' then 1 else 0 end) as viewed,
        max(case when event_type = 'cart' then 1 else 0 end) as carted,
        max(case when event_type = 'purchase' then 1 else 0 end) as purchased
    from {{ ref('fct_events') }}
    where user_session is not null
    group by user_session, product_id
)

select
    month_start,
    category_l1,
    brand,
    count(*) as session_products,
    sum(viewed) as session_products_viewed,
    sum(viewed * carted) as session_products_viewed_carted,
    sum(viewed * carted * purchased) as session_products_viewed_carted_purchased,
    sum(carted) as session_products_carted,
    sum(purchased) as session_products_purchased,
    cast(sum(viewed * carted) as double) / nullif(sum(viewed), 0) as session_product_view_to_cart_rate,
    cast(sum(carted * purchased) as double) / nullif(sum(carted), 0) as session_product_cart_to_purchase_rate,
    cast(sum(viewed * purchased) as double) / nullif(sum(viewed), 0) as session_product_view_to_purchase_rate,
    count(distinct case when viewed = 1 then user_id end) as users_viewed,
    count(distinct case when carted = 1 then user_id end) as users_carted,
    count(distinct case when purchased = 1 then user_id end) as users_purchased,
    cast(count(distinct case when carted = 1 then user_id end) as double)
        / nullif(count(distinct case when viewed = 1 then user_id end), 0) as user_view_to_cart_rate,
    cast(count(distinct case when purchased = 1 then user_id end) as double)
        / nullif(count(distinct case when viewed = 1 then user_id end), 0) as user_view_to_purchase_rate
from pairs
group by month_start, category_l1, brand
