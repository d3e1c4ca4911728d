{{ config(materialized='incremental', unique_key='user_id') }}
{%- do ref('int_weeks_built') -%}  {#- a dependency however the model runs: the week stamps (changed_weeks, the watermark post-hook) -#}

{#- A refresh recomputes the users active in the changed weeks from their weekly parts (all their weeks). -#}
with weeks as (
    {{ parts_of_changed_keys(ref('int_user_weeks'), 'user_id', 'activity_week') }}
),

users as (
    select
        user_id,
        min(first_seen_date) as first_seen_date,
        max(last_seen_date) as last_seen_date,
        min(first_purchase_date) as first_purchase_date,
        max(last_purchase_date) as last_purchase_date,
        sum(active_days) as active_days,
        sum(events) as lifetime_events,
        sum(session_days) as lifetime_session_days,
        sum(purchases) as lifetime_purchases,
        sum(purchase_session_days) as lifetime_purchase_sessions,
        sum(purchase_sessions_started) as lifetime_purchase_visits,
        sum(revenue) as lifetime_revenue
    from weeks
    group by user_id
)

select
    {{ surrogate_key(['user_id']) }} as user_key,
    *,
    {{ week_start('first_seen_date') }} as first_seen_week,
    {{ month_start('first_purchase_date') }} as first_purchase_month
from users
where first_seen_date is not null
