{{ config(unique_key='session_week') }}

{#-
One row per session x product pair: what the session did with the product. Funnel and cart abandonment
read it. Like fct_sessions, a session belongs to the week it starts in, and a run for [min_week,
max_week) rewrites the pairs of sessions starting in [min_week - 7 days, max_week) from the events of
[min_week - 7 days, max_week + 7 days), computing only the sessions the window's events can change.
-#}
with
{% if is_incremental() %}
sessions_last_day as (
    select user_session, session_week, max(last_event_date) as last_event_date
    from {{ this }}
    where {{ week_before_window('session_week') }}
    group by user_session, session_week
),

rebuilt as (
    {{ rebuilt_sessions('sessions_last_day', 'user_session', 'session_week', 'last_event_date') }}
),

events as (
    {{ session_window_events('rebuilt') }}
),
{% else %}
events as (
    {{ session_window_events() }}
),
{% endif %}

-- The sessions this run's fct_sessions rebuild: the same weeks, the same start of each session.
starts as (
    select session_id as user_session, session_week
    from {{ ref('fct_sessions') }}
    where {{ in_window('session_week', -7) }}
)

select
    events.user_session,
    events.product_id,
    starts.session_week,
    min(events.user_id) as user_id,
    min(events.event_date) as first_event_date,
    max(events.event_date) as last_event_date,
    min(case when events.event_type = 'cart' then events.event_time end) as first_cart_time,
    max(case when events.event_type = 'cart' then events.price end) as cart_price,
    min(events.brand) as brand,
    min(events.category_l1) as category_l1,
    max(case when events.event_type = 'view' then 1 else 0 end) as viewed,
    max(case when events.event_type = 'cart' then 1 else 0 end) as carted,
    max(case when events.event_type = 'purchase' then 1 else 0 end) as purchased
from events
inner join starts on events.user_session = starts.user_session
group by events.user_session, events.product_id, starts.session_week
{% if is_incremental() %}
union all
{{ kept_sessions('user_session') }}
{% endif %}
