{{ config(materialized='incremental', unique_key='month_start') }}
{%- do ref('int_weeks_built') -%}  {#- a dependency however the model runs: the week stamps (changed_weeks, the watermark post-hook) -#}

{#- A refresh recomputes whole months (MAU and stickiness are per month): those the changed weeks touch,
    from the daily activity of the weeks overlapping them (a week's WAU needs all its days). -#}
with months as (
    {{ changed_months() }}
),

activity as (
    select user_id, activity_date, activity_week, {{ month_start('activity_date') }} as activity_month
    from {{ ref('fct_daily_user_activity') }}
    where {{ month_start('activity_week') }} in (select month_start from months)
       or {{ month_start(add_days('activity_week', 6)) }} in (select month_start from months)
),

daily as (
    select activity_date as date_day, activity_week, activity_month, count(*) as dau
    from activity
    group by activity_date, activity_week, activity_month
),

weekly as (
    select activity_week, count(distinct user_id) as wau
    from activity
    group by activity_week
),

monthly as (
    select activity_month, count(distinct user_id) as mau
    from activity
    group by activity_month
),

stickiness as (
    select daily.activity_month, avg(daily.dau) as average_dau
    from daily
    group by daily.activity_month
)

select
    daily.date_day,
    daily.activity_week as iso_week_start,
    daily.activity_month as month_start,
    daily.dau,
    weekly.wau,
    monthly.mau,
    stickiness.average_dau as month_average_dau,
    stickiness.average_dau / monthly.mau as month_stickiness
from daily
inner join weekly on daily.activity_week = weekly.activity_week
inner join monthly on daily.activity_month = monthly.activity_month
inner join stickiness on daily.activity_month = stickiness.activity_month
where daily.activity_month in (select month_start from months)
