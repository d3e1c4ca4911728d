{#- Lifetime value tiers among buyers by revenue rank; users who never bought are 'none'. -#}
with users as (
    select user_id, user_key, first_seen_date, first_purchase_date, lifetime_purchases,
           lifetime_purchase_sessions, lifetime_revenue
    from {{ ref('dim_users') }}
),

ranked as (
    select
        *,
        case when lifetime_revenue > 0 then
            cast(row_number() over (order by lifetime_revenue desc, user_id) - 1 as double)
            / count(case when lifetime_revenue > 0 then 1 end) over ()
        end as share_of_buyers_above
    from users
)

select
    user_id,
    user_key,
    first_seen_date,
    first_purchase_date,
    lifetime_purchases,
    lifetime_revenue,
    lifetime_revenue / nullif(lifetime_purchase_sessions, 0) as revenue_per_purchase_session,
    share_of_buyers_above,
    case
        when lifetime_revenue = 0 or lifetime_revenue is null then 'none'
        when share_of_buyers_above < 0.01 then 'platinum'
        when share_of_buyers_above < 0.10 then 'gold'
        when share_of_buyers_above < 0.50 then 'silver'
        else 'bronze'
    end as value_tier
from ranked
