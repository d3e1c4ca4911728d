{#- All history from the weekly parts (168 cells a week), so a refresh never reads the events. -#}
with cells as (
    select iso_weekday, event_hour, sum(purchases) as purchases, sum(revenue) as revenue
    from {{ ref('int_purchase_hours') }}
    group by iso_weekday, event_hour
)

select
    iso_weekday,
    event_hour,
    purchases,
    revenue,
    cast(purchases as double) / sum(purchases) over () as purchase_share
from cells
