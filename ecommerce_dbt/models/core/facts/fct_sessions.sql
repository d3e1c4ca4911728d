{{ config(unique_key='session_week') }}

{#-
A session belongs to the week it starts in. A run for [min_week, max_week) rewrites the sessions that
start in [min_week - 7 days, max_week), from the events of [min_week - 7 days, max_week + 7 days): a
session that started last week and crossed into this one is completed, never split or counted twice.
Only the sessions the window's events can change are computed (macros/session_window.sql); the week
before's other sessions are written back as its own run left them.
-#}
with
{% if is_incremental() %}
rebuilt as (
    {{ rebuilt_sessions(this, 'session_id', 'session_week', 'session_end') }}
),

events as (
    {{ session_window_events('rebuilt') }}
),
{% else %}
events as (
    {{ session_window_events() }}
),
{% endif %}

{#- Per session and product first: the session's distinct products are then rows. #}
session_products as (
    select
        user_session,
        product_id,
        min(user_id) as user_id,
        min(event_time) as first_time,
        max(event_time) as last_time,
        count(*) as events,
        count(case when event_type = 'view' then 1 end) as views,
        count(case when event_type = 'cart' then 1 end) as carts,
        count(case when event_type = 'remove_from_cart' then 1 end) as removals,
        count(case when event_type = 'purchase' then 1 end) as purchases,
        sum(revenue) as revenue
    from events
    group by user_session, product_id
),

sessions as (
    select
        user_session as session_id,
        min(user_id) as user_id,
        min(first_time) as session_start,
        max(last_time) as session_end,
        cast(sum(events) as bigint) as events,
        cast(sum(views) as bigint) as views,
        cast(sum(carts) as bigint) as carts,
        cast(sum(removals) as bigint) as removals,
        cast(sum(purchases) as bigint) as purchases,
        count(*) as products,
        sum(revenue) as revenue
    from session_products
    group by user_session
)

select
    session_id,
    {{ surrogate_key(['user_id']) }} as user_key,
    user_id,
    session_start,
    session_end,
    {{ dbt.datediff('session_start', 'session_end', 'second') }} as duration_seconds,
    cast(session_start as date) as session_date,
    {{ week_start('session_start') }} as session_week,
    events,
    views,
    carts,
    removals,
    purchases,
    products,
    revenue,
    carts > 0 as reached_cart,
    purchases > 0 as reached_purchase
from sessions
where {{ in_window(week_start('session_start'), -7) }}
{% if is_incremental() %}
union all
{{ kept_sessions('session_id') }}
{% endif %}
