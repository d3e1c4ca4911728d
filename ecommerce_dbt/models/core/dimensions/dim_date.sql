with bounds as (
    select min(first_date) as first_day, max(last_date) as last_day from {{ ref('int_weeks_built') }}
),

days as (
    {{ date_series("(select first_day from bounds)", "(select last_day from bounds)") }}
)

select
    date_day,
    cast(extract(year from date_day) * 10000 + extract(month from date_day) * 100 + extract(day from date_day) as integer) as date_key,
    {{ week_start('date_day') }} as iso_week_start,
    {{ month_start('date_day') }} as month_start,
    {{ iso_weekday('date_day') }} as iso_weekday,
    {{ iso_weekday('date_day') }} >= 6 as is_weekend
from days
