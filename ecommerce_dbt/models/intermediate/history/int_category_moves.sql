{#-
Category moves detected from product continuity: a product "moves" from category A to B when its last
event under A is no later than its first under B (delivered ids, all history). A move shared by many of
A's products around one date is a taxonomy remap, not a reclassified product: those pairs are the
candidates the seed category_remaps records once reviewed.
-#}
with spans as (
    select product_id, observed_category_id as category_id, min(first_date) as first_date, max(last_date) as last_date
    from {{ ref('int_product_weeks') }}
    group by product_id, observed_category_id
),

moves as (
    select
        old.category_id as from_category_id,
        new.category_id as to_category_id,
        old.product_id,
        new.first_date as moved_on
    from spans as old
    inner join spans as new
        on old.product_id = new.product_id
        and old.category_id <> new.category_id
        and old.last_date <= new.first_date
),

pairs as (
    select
        from_category_id,
        to_category_id,
        count(distinct product_id) as products_moved,
        min(moved_on) as first_moved_on,
        max(moved_on) as last_moved_on
    from moves
    group by from_category_id, to_category_id
),

products_before as (
    select pairs.from_category_id, pairs.to_category_id, count(distinct spans.product_id) as products_before
    from pairs
    inner join spans on spans.category_id = pairs.from_category_id and spans.first_date < pairs.first_moved_on
    group by pairs.from_category_id, pairs.to_category_id
),

codes as (
    select observed_category_id as category_id, min(observed_category_code) as category_code
    from {{ ref('int_product_weeks') }}
    where category_code_delivered
    group by observed_category_id
),

reviewed as (
    select observed_category_id, canonical_category_id, min(status) as status
    from {{ ref('category_remaps') }}
    group by observed_category_id, canonical_category_id
)

select
    pairs.from_category_id,
    from_codes.category_code as from_category_code,
    pairs.to_category_id,
    to_codes.category_code as to_category_code,
    pairs.products_moved,
    coalesce(products_before.products_before, 0) as products_before,
    pairs.products_moved * 1.0 / nullif(products_before.products_before, 0) as share_of_products_moved,
    pairs.first_moved_on,
    pairs.last_moved_on,
    pairs.products_moved >= {{ var('remap_min_products') }}
        and pairs.products_moved >= {{ var('remap_min_share') }} * coalesce(products_before.products_before, 0)
        as is_remap_candidate,
    reviewed.status as review_status
from pairs
left join products_before
    on pairs.from_category_id = products_before.from_category_id and pairs.to_category_id = products_before.to_category_id
left join codes as from_codes on pairs.from_category_id = from_codes.category_id
left join codes as to_codes on pairs.to_category_id = to_codes.category_id
left join reviewed
    on pairs.to_category_id = reviewed.observed_category_id and pairs.from_category_id = reviewed.canonical_category_id
