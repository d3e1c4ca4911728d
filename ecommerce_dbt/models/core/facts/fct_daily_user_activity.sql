{{ config(unique_key='activity_week') }}

{#- One row per user and day, so marts count active users and buyers without rescanning events. Counted in
two steps, per user, day and session, then per user and day: distinct sessions are then rows, not the
per-group hash sets of count(distinct ...). -#}
with events as (
    select *
    from {{ ref('fct_events') }}
    where {{ in_window('event_week') }}
),

user_day_sessions as (
    select
        user_id,
        event_date,
        event_week,
        user_session,
        count(*) as events,
        count(case when event_type = 'view' then 1 end) as views,
        count(case when event_type = 'cart' then 1 end) as carts,
        count(case when event_type = 'purchase' then 1 end) as purchases,
        sum(revenue) as revenue
    from events
    group by user_id, event_date, event_week, user_session
)

select
    {{ surrogate_key(['user_id']) }} as user_key,
    user_id,
    event_date as activity_date,
    event_week as activity_week,
    cast(sum(events) as bigint) as events,
    cast(sum(views) as bigint) as views,
    cast(sum(carts) as bigint) as carts,
    cast(sum(purchases) as bigint) as purchases,
    {#- one row per session here (a null session is one row that count() skips, as count(distinct) did) #}
    count(user_session) as sessions,
    count(case when purchases > 0 then user_session end) as purchase_sessions,
    sum(revenue) as revenue
from user_day_sessions
group by user_id, event_date, event_week
