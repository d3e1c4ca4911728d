{#- Cohort = the week of a user's first activity over all history (not the current window). Rebuilt on each
    refresh from the compact per-user state (dim_users, int_user_weeks), never from the events. -#}
with cohorts as (
    select user_id, first_seen_week as cohort_week from {{ ref('dim_users') }}
),

activity as (
    select user_id, activity_week from {{ ref('int_user_weeks') }} where active_days > 0
),

sizes as (
    select cohort_week, count(*) as cohort_users from cohorts group by cohort_week
),

retained as (
    select
        cohorts.cohort_week,
        {{ weeks_between('cohorts.cohort_week', 'activity.activity_week') }} as week_offset,
        count(*) as active_users
    from cohorts
    inner join activity on cohorts.user_id = activity.user_id
    group by cohorts.cohort_week, {{ weeks_between('cohorts.cohort_week', 'activity.activity_week') }}
)

select
    retained.cohort_week,
    retained.week_offset,
    {{ add_days('retained.cohort_week', 'retained.week_offset * 7') }} as activity_week,
    sizes.cohort_users,
    retained.active_users,
    cast(retained.active_users as double) / sizes.cohort_users as retention_rate
from retained
inner join sizes on retained.cohort_week = sizes.cohort_week
