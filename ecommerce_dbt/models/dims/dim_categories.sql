{#-
One row per category_id with the code it carries most often (observed, not imputed, when there is one)
and when it was seen. The December 2019 move of smartphones from 2053013555631882655
(electronics.smartphone) to 2232732093077520756 (construction.tools.light) stays visible as two ids
with their own codes and date ranges.
-#}
with events as (
    select category_id, category_key, category_code, category_code_imputed, category_l1, category_l2, category_l3, event_date
    from {{ ref('fct_events') }}
),

codes as (
    select
        category_id, category_code, category_l1, category_l2, category_l3,
        row_number() over (
            partition by category_id
            order by min(case when category_code_imputed then 1 else 0 end), count(*) desc, category_code
        ) as preference
    from events
    group by category_id, category_code, category_l1, category_l2, category_l3
),

seen as (
    select
        category_id,
        category_key,
        min(event_date) as first_seen_date,
        max(event_date) as last_seen_date,
        count(distinct category_code) as codes_seen,
        count(*) as events
    from events
    group by category_id, category_key
)

select
    seen.category_key,
    seen.category_id,
    codes.category_code,
    codes.category_l1,
    codes.category_l2,
    codes.category_l3,
    seen.first_seen_date,
    seen.last_seen_date,
    seen.codes_seen,
    seen.events
from seen
inner join codes on seen.category_id = codes.category_id and codes.preference = 1
