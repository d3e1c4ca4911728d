{#-
One row per (delivered category id, canonical category id) pair the facts use: an id that a reviewed remap
reports under another from some date has two rows, the identity one valid before the remap and the
remapped one valid from it. The delivered code shown is the one the id carries most often (delivered
rather than imputed where there is one).
-#}
with events as (
    select
        category_key, observed_category_id, observed_category_code, category_code_source, category_id,
        category_code, category_l1, category_l2, category_l3, category_remapped, event_date
    from {{ ref('fct_events') }}
),

observed_codes as (
    select
        observed_category_id,
        observed_category_code,
        row_number() over (
            partition by observed_category_id
            order by min(case when category_code_source = 'observed' then 0 else 1 end), count(*) desc, observed_category_code
        ) as preference
    from events
    group by observed_category_id, observed_category_code
),

pairs as (
    select
        category_key,
        observed_category_id,
        category_id,
        category_remapped,
        min(event_date) as first_seen_date,
        max(event_date) as last_seen_date,
        count(distinct observed_category_code) as codes_seen,
        count(*) as events
    from events
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
