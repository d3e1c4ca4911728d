with source as (
    select * from {{ source('raw', 'events') }}
),

renamed as (
    select
        event_id,
        event_time,
        event_date,
        event_hour,
        event_week,
        event_type,
        product_id,
        category_id,
        category_code,
        category_code_imputed,
        category_code_source,
        category_l1,
        category_l2,
        category_l3,
        brand,
        brand_imputed,
        brand_source,
        price,
        user_id,
        user_session,
        loaded_at
    from source
)

select * from renamed
