{{ config(materialized='incremental', unique_key='date_day') }}
{%- do ref('int_weeks_built') -%}  {#- a dependency however the model runs: the week stamps (changed_weeks, the watermark post-hook) -#}

{#- A refresh recomputes the days of the changed weeks. -#}
with activity as (
    select * from {{ ref('fct_daily_user_activity') }}
    where activity_week in ({{ changed_weeks() }})
),

daily as (
    select
        activity_date as date_day,
        sum(events) as events,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases,
        count(*) as dau,
        count(case when purchases > 0 then 1 end) as buyers,
        sum(revenue) as revenue
    from activity
    group by activity_date
),

sessions as (
    select
        session_date as date_day,
        count(*) as sessions,
        count(case when reached_cart then 1 end) as cart_sessions,
        count(case when reached_purchase then 1 end) as purchase_sessions
    from {{ ref('fct_sessions') }}
    where session_week in ({{ changed_weeks() }})
    group by session_date
)

select
    daily.date_day,
    daily.events,
    daily.views,
    daily.carts,
    daily.purchases,
    daily.dau,
    daily.buyers,
    daily.revenue,
    coalesce(sessions.sessions, 0) as sessions,
    coalesce(sessions.cart_sessions, 0) as cart_sessions,
    coalesce(sessions.purchase_sessions, 0) as purchase_sessions,
    daily.revenue / nullif(sessions.purchase_sessions, 0) as aov_per_purchase_session,
    cast(sessions.cart_sessions as double) / nullif(sessions.sessions, 0) as session_cart_rate,
    cast(sessions.purchase_sessions as double) / nullif(sessions.sessions, 0) as session_purchase_rate,
    cast(daily.buyers as double) / nullif(daily.dau, 0) as user_purchase_rate
from daily
left join sessions on daily.date_day = sessions.date_day
