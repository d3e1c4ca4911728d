{{ config(unique_key='event_week') }}

{#- Per week and product, the attributes of its last event (by time, then event_id): dim_products takes the latest week's. -#}
{{ last_rows(
    ref('fct_events'),
    partition_by=['event_week', 'product_id'],
    order_by=['event_time', 'event_id'],
    columns=['event_time', 'event_id', 'brand', 'observed_category_id', 'category_id', 'category_code'],
    where=in_window('event_week'),
) }}
