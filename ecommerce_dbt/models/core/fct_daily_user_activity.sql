{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='activity_week',
        on_schema_change='fail'
    )
}}

{#- One row per user and day, so marts count active users and buyers without rescanning events. -#}
with events as (
    select *
    from {{ ref('fct_events') }}
    where {{ in_window('event_week') }}
)

select
    user_key,
    user_id,
    event_date as activity_date,
    event_week as activity_week,
    count(*) as events,
    count(case when event_type = 'view' then 1 end) as views,
    count(case when event_type = 'cart' then 1 end) as carts,
    count(case when event_type = 'purchase' then 1 end) as purchases,
    count(distinct user_session) as sessions,
    count(distinct case when event_type = 'purchase' then user_session end) as purchase_sessions,
    sum(revenue) as revenue
from events
group by user_key, user_id, event_date, event_week
