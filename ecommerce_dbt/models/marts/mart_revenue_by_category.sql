with purchases as (
    select {{ month_start('event_date') }} as month_start, coalesce(category_l1, 'unknown') as category_l1, user_id, revenue
    from {{ ref('fct_events') }}
    where event_type = 'purchase'
),

monthly as (
    select month_start, category_l1, count(*) as purchases, count(distinct user_id) as buyers, sum(revenue) as revenue
    from purchases
    group by month_start, category_l1
)

select
    *,
    revenue / sum(revenue) over (partition by month_start) as revenue_share_of_month,
    row_number() over (partition by month_start order by revenue desc, category_l1) as revenue_rank
from monthly
