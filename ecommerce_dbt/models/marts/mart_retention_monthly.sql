{#- Cohort = the month of a user's first purchase over all history. Rebuilt on each refresh from the compact
    per-user state (dim_users, int_user_weeks), never from the events. -#}
with cohorts as (
    select user_id, first_purchase_month as cohort_month
    from {{ ref('dim_users') }}
    where first_purchase_month is not null
),

-- A week spans at most two months, so its first and last purchase days give all its purchase months.
purchase_months as (
    select user_id, {{ month_start('first_purchase_date') }} as purchase_month
    from {{ ref('int_user_weeks') }} where purchases > 0
    union
    select user_id, {{ month_start('last_purchase_date') }}
    from {{ ref('int_user_weeks') }} where purchases > 0
),

sizes as (
    select cohort_month, count(*) as cohort_buyers from cohorts group by cohort_month
),

retained as (
    select
        cohorts.cohort_month,
        {{ dbt.datediff('cast(cohorts.cohort_month as date)', 'cast(purchase_months.purchase_month as date)', 'month') }} as month_offset,
        count(*) as repeat_buyers
    from cohorts
    inner join purchase_months on cohorts.user_id = purchase_months.user_id
    group by cohorts.cohort_month, {{ dbt.datediff('cast(cohorts.cohort_month as date)', 'cast(purchase_months.purchase_month as date)', 'month') }}
)

select
    retained.cohort_month,
    retained.month_offset,
    sizes.cohort_buyers,
    retained.repeat_buyers,
    cast(retained.repeat_buyers as double) / sizes.cohort_buyers as retention_rate
from retained
inner join sizes on retained.cohort_month = sizes.cohort_month
