with activity as (
    select * from {{ ref('fct_daily_user_activity') }}
),

users as (
    select
        user_key,
        user_id,
        min(activity_date) as first_seen_date,
        max(activity_date) as last_seen_date,
        min(case when purchases > 0 then activity_date end) as first_purchase_date,
        max(case when purchases > 0 then activity_date end) as last_purchase_date,
        count(*) as active_days,
        sum(events) as lifetime_events,
        sum(sessions) as lifetime_session_days,
        sum(purchases) as lifetime_purchases,
        sum(purchase_sessions) as lifetime_purchase_sessions,
        sum(revenue) as lifetime_revenue
    from activity
    group by user_key, user_id
)

select
    *,
    {{ week_start('first_seen_date') }} as first_seen_week,
    {{ month_start('first_purchase_date') }} as first_purchase_month
from users
