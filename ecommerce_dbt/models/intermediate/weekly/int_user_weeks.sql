{{ config(unique_key='activity_week') }}

{#-
Per user and week: the week's share of the user's lifetime state (first and last days, counts, revenue,
sessions started). dim_users and the retention and RFM marts aggregate it instead of every event. A run
rebuilds [min_week - 7 days, max_week): the sessions of the week before are completed by this week's
events (fct_sessions), and their counts belong to the week they started in.
-#}
with activity as (
    select
        user_id,
        activity_week,
        min(activity_date) as first_seen_date,
        max(activity_date) as last_seen_date,
        min(case when purchases > 0 then activity_date end) as first_purchase_date,
        max(case when purchases > 0 then activity_date end) as last_purchase_date,
        count(*) as active_days,
        sum(events) as events,
        sum(sessions) as session_days,
        sum(purchases) as purchases,
        sum(purchase_sessions) as purchase_session_days,
        sum(revenue) as revenue
    from {{ ref('fct_daily_user_activity') }}
    where {{ in_window('activity_week', -7) }}
    group by user_id, activity_week
),

sessions as (
    select
        user_id,
        session_week,
        count(*) as sessions_started,
        count(case when reached_purchase then 1 end) as purchase_sessions_started
    from {{ ref('fct_sessions') }}
    where {{ in_window('session_week', -7) }}
    group by user_id, session_week
)

select
    coalesce(activity.user_id, sessions.user_id) as user_id,
    coalesce(activity.activity_week, sessions.session_week) as activity_week,
    activity.first_seen_date,
    activity.last_seen_date,
    activity.first_purchase_date,
    activity.last_purchase_date,
    coalesce(activity.active_days, 0) as active_days,
    coalesce(activity.events, 0) as events,
    coalesce(activity.session_days, 0) as session_days,
    coalesce(activity.purchases, 0) as purchases,
    coalesce(activity.purchase_session_days, 0) as purchase_session_days,
    coalesce(activity.revenue, 0) as revenue,
    coalesce(sessions.sessions_started, 0) as sessions_started,
    coalesce(sessions.purchase_sessions_started, 0) as purchase_sessions_started
from activity
full outer join sessions on activity.user_id = sessions.user_id and activity.activity_week = sessions.session_week
