{#-
Recency, frequency, monetary over purchases, scored with NTILE(5) (5 is best; ties broken by user_id so
scores are deterministic), as of the day after the last event in the data. Scores rank every buyer, so
the table is rebuilt on each refresh, from dim_users (one row per user), never from the events.
-#}
with users as (
    select * from {{ ref('dim_users') }}
),

as_of as (
    select {{ add_days('max(last_seen_date)', 1) }} as as_of_date from users
),

buyers as (
    select
        user_id,
        last_purchase_date,
        lifetime_purchase_visits as frequency,
        lifetime_revenue as monetary
    from users
    where lifetime_purchases > 0
),

scored as (
    select
        buyers.*,
        {{ dbt.datediff('cast(buyers.last_purchase_date as date)', 'cast(as_of.as_of_date as date)', 'day') }} as recency_days,
        ntile(5) over (order by buyers.last_purchase_date, buyers.user_id) as r_score,
        ntile(5) over (order by buyers.frequency, buyers.user_id) as f_score,
        ntile(5) over (order by buyers.monetary, buyers.user_id) as m_score
    from buyers
    cross join as_of
)

select
    user_id,
    {{ surrogate_key(['user_id']) }} as user_key,
    last_purchase_date,
    recency_days,
    frequency,
    monetary,
    r_score,
    f_score,
    m_score,
    cast(r_score as varchar) || cast(f_score as varchar) || cast(m_score as varchar) as rfm_code,
    case
        when r_score >= 4 and f_score >= 4 and m_score >= 4 then 'champions'
        when f_score >= 4 and m_score >= 3 then 'loyal'
        when r_score >= 4 and f_score <= 1 then 'new'
        when r_score >= 4 then 'potential_loyalists'
        when r_score <= 2 and f_score >= 3 then 'at_risk'
        when r_score <= 2 then 'hibernating'
        else 'needs_attention'
    end as segment
from scored
