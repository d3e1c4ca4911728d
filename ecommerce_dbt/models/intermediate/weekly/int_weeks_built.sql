{{ config(unique_key='event_week') }}

{#- One row per week in the facts, stamped when a weekly run rebuilds it: what the history models refresh from (macros/changed_weeks.sql). -#}
select
    event_week,
    cast(current_timestamp as timestamp) as refreshed_at,
    count(*) as events,
    min(event_date) as first_date,
    max(event_date) as last_date
from {{ ref('fct_events') }}
where {{ in_window('event_week') }}
group by event_week
