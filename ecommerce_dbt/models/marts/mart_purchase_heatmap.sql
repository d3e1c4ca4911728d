with purchases as (
    select {{ iso_weekday('event_time') }} as iso_weekday, event_hour, revenue
    from {{ ref('fct_events') }}
    where event_type = 'purchase'
)

select
    iso_weekday,
    event_hour,
    count(*) as purchases,
    sum(revenue) as revenue,
    cast(count(*) as double) / sum(count(*)) over () as purchase_share
from purchases
group by iso_weekday, event_hour
