{{ config(unique_key='event_week') }}

{#-
Per week and product, the points where the price may change: the price of each second is that of its
last event (by event_id), and a second is kept when it is the product's first in the week or its price
differs from the second before. dim_products compares consecutive points across weeks, so dropping the
seconds that repeat the previous price within a week changes nothing.
-#}
with seconds as (
    {{ last_rows(
        ref('fct_events'),
        partition_by=['product_id', 'event_week', 'event_time'],
        order_by=['event_id'],
        columns=['price'],
        where=in_window('event_week'),
    ) }}
),

compared as (
    select *, lag(price) over (partition by product_id, event_week order by event_time) as previous_price
    from seconds
)

select product_id, {{ surrogate_key(['product_id']) }} as product_key, event_week, event_time, price
from compared
where previous_price is null or previous_price <> price
