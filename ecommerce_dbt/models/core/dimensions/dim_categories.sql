{#-
One row per (delivered category id, canonical category id) pair the facts use: an id that a reviewed remap
reports under another from some date has two rows, the identity one valid before the remap and the
remapped one valid from it. The delivered code shown is the one the id carries most often (delivered
rather than imputed where there is one). Built from the weekly parts (int_product_weeks), not the events.
-#}
with parts as (
    select * from {{ ref('int_product_weeks') }}
),

observed_codes as (
    select
        observed_category_id,
        observed_category_code,
        row_number() over (
            partition by observed_category_id
            order by max(case when category_code_delivered then 1 else 0 end) desc, sum(events) desc, observed_category_code
        ) as preference
    from parts
    group by observed_category_id, observed_category_code
),

pairs as (
    select
        category_key,
        observed_category_id,
        category_id,
        category_remapped,
        min(first_date) as first_seen_date,
        max(last_date) as last_seen_date,
        count(distinct observed_category_code) as codes_seen,
        sum(events) as events
    from parts
    group by category_key, observed_category_id, category_id, category_remapped
),

remaps as (
    select observed_category_id, canonical_category_id, canonical_category_code, valid_from, valid_to
    from {{ ref('category_remaps') }}
    where status = 'confirmed'
),

-- An id's identity row is valid until its first remap starts.
identity_end as (
    select observed_category_id, min(valid_from) as valid_to
    from remaps
    group by observed_category_id
),

resolved as (
    select
        pairs.*,
        observed_codes.observed_category_code,
        coalesce(remaps.canonical_category_code, observed_codes.observed_category_code) as category_code,
        remaps.valid_from,
        case when pairs.category_remapped then remaps.valid_to else identity_end.valid_to end as valid_to
    from pairs
    inner join observed_codes
        on pairs.observed_category_id = observed_codes.observed_category_id and observed_codes.preference = 1
    left join remaps
        on pairs.category_remapped
        and pairs.observed_category_id = remaps.observed_category_id
        and pairs.category_id = remaps.canonical_category_id
    left join identity_end
        on not pairs.category_remapped and pairs.observed_category_id = identity_end.observed_category_id
)

select
    category_key,
    observed_category_id,
    observed_category_code,
    category_id,
    category_code,
    nullif(split_part(category_code, '.', 1), '') as category_l1,
    nullif(split_part(category_code, '.', 2), '') as category_l2,
    nullif(split_part(category_code, '.', 3), '') as category_l3,
    category_remapped,
    valid_from,
    valid_to,
    first_seen_date,
    last_seen_date,
    codes_seen,
    events
from resolved
