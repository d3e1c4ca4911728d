{{ config(unique_key='event_week') }}

{#- Purchases per week, ISO weekday and hour (UTC): mart_purchase_heatmap sums the weeks. -#}
select event_week, {{ iso_weekday('event_time') }} as iso_weekday, event_hour, count(*) as purchases, sum(revenue) as revenue
from {{ ref('fct_events') }}
where {{ in_window('event_week') }} and event_type = 'purchase'
group by event_week, {{ iso_weekday('event_time') }}, event_hour
