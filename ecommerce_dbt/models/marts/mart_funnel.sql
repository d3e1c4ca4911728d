{{ config(materialized='incremental', unique_key='month_start') }}
{%- do ref('int_weeks_built') -%}  {#- a dependency however the model runs: the week stamps (changed_weeks, the watermark post-hook) -#}

{#- Population: session x product pairs (a product a session touched), and the users behind the pairs.
    A refresh recomputes whole months (distinct users do not add up): those the changed weeks touch, and
    any month a pair of a changed week's sessions falls in (a session may run on into the next month). -#}
with pairs as (
    select *, {{ month_start('first_event_date') }} as month_start
    from {{ ref('int_session_products') }}
    {%- if is_incremental() %}
    where {{ month_start('first_event_date') }} in (
        {{ changed_months() }}
        union
        select {{ month_start('first_event_date') }} from {{ ref('int_session_products') }}
        where session_week in ({{ changed_weeks() }})
    )
    {%- endif %}
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
