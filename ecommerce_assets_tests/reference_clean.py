"""The clean step written once more in DuckDB SQL: the yardstick the Spark job is measured against.

Same input (a week's raw ``part-*.csv.gz`` files), same rules as ``ecommerce_assets/lib/spark/rules.py``
(split by position, explicit types, first failing reject reason, exact de-duplication, brand and
category_code imputation product -> category -> 'unknown', category levels, MD5 event_id), same Parquet
columns. A ratio Spark / this, measured in one run, holds on a noisy machine where absolute times do not;
``compare`` checks, row by row, that both produce the same clean events.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from ecommerce_assets.lib.kaggle import COLUMNS, EVENT_TYPES
from ecommerce_assets.lib.raw_split import MAX_LINE_BYTES
from ecommerce_assets.lib.spark.rules import REJECT_REASONS, TEXT_MAX_BYTES

_FIELDS = ",\n".join(f"nullif(_f[{i + 1}], '') as {name}" for i, name in enumerate(COLUMNS))
_EVENT_TYPES = ", ".join(f"'{t}'" for t in EVENT_TYPES)
# Spark's trim removes spaces only; DuckDB's trim(x) any Unicode space (a no-break space too).
_BLANK = "{0} is null or trim({0}, ' ') = ''"
# As spark/rules._bad_text: a control character, or longer than any real value.
_BAD_TEXT = f"regexp_matches({{0}}, '[\\x00-\\x1f\\x7f]') or strlen({{0}}) > {TEXT_MAX_BYTES}"

# The Spark rules' reject predicates in DuckDB SQL, by reason; the order of checking is REJECT_REASONS.
_REJECT_SQL = {
    "malformed_line": "not _well_formed",
    "bad_event_time": "_ts is null",
    "outside_week": "_ts < source_week or _ts >= source_week + interval 7 day",
    "unknown_event_type": f"event_type is null or event_type not in ({_EVENT_TYPES})",
    "missing_product_id": _BLANK.format("product_id"),
    "invalid_product_id": "_product_id is null",
    "missing_category_id": _BLANK.format("category_id"),
    "invalid_category_id": "_category_id is null",
    "missing_user_id": _BLANK.format("user_id"),
    "invalid_user_id": "_user_id is null",
    "missing_price": _BLANK.format("price"),
    "negative_price": r"regexp_matches(price, '^[ \t]*-')",
    "non_numeric_price": "_price is null",
    "invalid_category_code": _BAD_TEXT.format("category_code"),
    "invalid_brand": _BAD_TEXT.format("brand"),
    "invalid_user_session": _BAD_TEXT.format("user_session"),
}
# A reason added to (or dropped from) the Spark rules must not pass here unnoticed.
if set(_REJECT_SQL) != set(REJECT_REASONS):
    raise RuntimeError(
        "reject reasons differ from ecommerce_assets/lib/spark/rules.py: "
        f"only there {sorted(set(REJECT_REASONS) - set(_REJECT_SQL))}, only here {sorted(set(_REJECT_SQL) - set(REJECT_REASONS))}"
    )
_REJECT_REASON = "\n".join(f"        when {_REJECT_SQL[reason]} then '{reason}'" for reason in REJECT_REASONS)

CLASSIFIED = f"""
create or replace temp view classified as
with lines as (
    select column0 as raw_line, filename as source_file, cast(week as date) as source_week,
           string_split(column0, ',') as _f
    from read_csv($files, columns = {{'column0': 'varchar'}}, delim = chr(13), new_line = '\\n', quote = '',
                  escape = '', max_line_size = {MAX_LINE_BYTES + 2}, header = true, auto_detect = false,
                  filename = true, hive_partitioning = true)
), typed as (
    select raw_line, source_file, source_week, len(_f) = {len(COLUMNS)} as _well_formed, {_FIELDS}
    from lines
), parsed as (
    select *,
        case when regexp_full_match(event_time, '\\d{{4}}-\\d{{2}}-\\d{{2}} \\d{{2}}:\\d{{2}}:\\d{{2}} UTC')
             then try_cast(substr(event_time, 1, 19) as timestamp) end as _ts,
        case when regexp_full_match(product_id, '[0-9]{{1,18}}') then try_cast(product_id as bigint) end as _product_id,
        case when regexp_full_match(category_id, '[0-9]{{1,19}}') then try_cast(category_id as bigint) end as _category_id,
        case when regexp_full_match(user_id, '[0-9]{{1,18}}') then try_cast(user_id as bigint) end as _user_id,
        case when regexp_full_match(price, '[0-9]+(\\.[0-9]{{1,2}})?') then try_cast(price as decimal(12, 2)) end as _price
    from typed
)
select *,
    case
{_REJECT_REASON}
    end as reject_reason
from parsed
"""

# Most common non-null value per (week, key) among de-duplicated rows; ties go to the smallest value.
_MOST_COMMON = """
    select source_week, {key}, arg_min({value}, (-n, {value})) as _{value}_{level}
    from (select source_week, {key}, {value}, count(*) as n from events where {value} is not null group by all)
    group by all"""
# The product's map holds brand and code (one join); the category's only the code, since a brand is
# never taken from the category (spark/rules.IMPUTATION_LEVELS).
_MAPS = f"""
product_map as (
    select * from ({_MOST_COMMON.format(key="_product_id", value="brand", level="product")})
    full join ({_MOST_COMMON.format(key="_product_id", value="category_code", level="product")})
    using (source_week, _product_id)
),
category_map as ({_MOST_COMMON.format(key="_category_id", value="category_code", level="category")})"""

CLEAN = f"""
copy (
    with events as (
        select distinct source_week, raw_line, _ts, event_type, _product_id, _category_id, category_code,
               brand, _price, _user_id, user_session
        from classified where reject_reason is null
    ),
    {_MAPS},
    imputed as (
        select e.*,
            case when e.brand is not null then 'observed' when p._brand_product is not null then 'product'
                 else 'default' end as brand_source,
            case when e.category_code is not null then 'observed'
                 when p._category_code_product is not null then 'product'
                 when c._category_code_category is not null then 'category' else 'default' end as category_code_source,
            coalesce(e.brand, p._brand_product, 'unknown') as _brand,
            coalesce(e.category_code, p._category_code_product, c._category_code_category, 'unknown') as _code
        from events e
        left join product_map p using (source_week, _product_id)
        left join category_map c using (source_week, _category_id)
    )
    select
        md5(raw_line) as event_id,
        _ts as event_time,
        cast(_ts as date) as event_date,
        cast(hour(_ts) as integer) as event_hour,
        cast(date_trunc('week', _ts) as date) as event_week,
        event_type,
        _product_id as product_id,
        _category_id as category_id,
        _code as category_code,
        category_code_source <> 'observed' as category_code_imputed,
        category_code_source,
        string_split(_code, '.')[1] as category_l1,
        string_split(_code, '.')[2] as category_l2,
        string_split(_code, '.')[3] as category_l3,
        _brand as brand,
        brand_source <> 'observed' as brand_imputed,
        brand_source,
        _price as price,
        _user_id as user_id,
        user_session,
        cast(source_week as varchar) as week
    from imputed
) to '{{clean}}' (format parquet, partition_by (week), overwrite_or_ignore true)
"""

REJECTED = """
copy (
    select raw_line, reject_reason, source_file, source_week, cast(source_week as varchar) as week
    from classified where reject_reason is not null
) to '{rejected}' (format parquet, partition_by (week), overwrite_or_ignore true)
"""


def reference_clean(raw_files: list[str], out: Path, temp_dir: Path, memory_limit: str = "6GB") -> dict[str, float]:
    """Clean ``raw_files`` into ``out/clean`` and ``out/rejected``; return row counts and seconds.

    The rules live in a view, so each output is one streaming query over the files (the rejected rows
    are a second, cheap scan) rather than a materialized copy of every parsed row.
    """
    started = time.perf_counter()
    temp_dir.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    config = {"temp_directory": str(temp_dir), "preserve_insertion_order": False, "memory_limit": memory_limit}
    with duckdb.connect(config=config) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(CLASSIFIED.replace("$files", "[" + ", ".join(f"'{f}'" for f in raw_files) + "]"))
        con.execute(CLEAN.format(clean=out / "clean"))
        con.execute(REJECTED.format(rejected=out / "rejected"))
        seconds = time.perf_counter() - started
        # Listed, not globbed: a partitioned COPY of no rows writes no file (a week whose rows are all rejected).
        counts = {}
        for kind in ("clean", "rejected"):
            files = [str(p) for p in (out / kind).rglob("*.parquet")]
            count = con.execute("select count(*) from read_parquet($f)", {"f": files}).fetchone()[0] if files else 0
            counts[f"{kind}_rows"] = count
    return {**counts, "seconds": seconds}


def compare(spark_clean: Path, reference: Path, temp_dir: Path, memory_limit: str = "3GB") -> int:
    """Rows of one clean output missing from the other, all columns compared (0 = identical).

    Bounded memory, spilling to ``temp_dir``: without a limit DuckDB takes up to 80% of the machine's
    memory for the two sides of a full-scale week and the kernel killed the benchmark.
    """
    query = """
        with a as (select * from read_parquet($a, hive_partitioning = true)),
             b as (select * from read_parquet($b, hive_partitioning = true))
        select (select count(*) from (select * from a except all select * from b))
             + (select count(*) from (select * from b except all select * from a))
    """
    files_a = [str(p) for p in sorted(spark_clean.glob("week=*/*.parquet"))]
    files_b = [str(p) for p in sorted(reference.glob("week=*/*.parquet"))]
    temp_dir.mkdir(parents=True, exist_ok=True)
    config = {"temp_directory": str(temp_dir), "preserve_insertion_order": False, "memory_limit": memory_limit}
    with duckdb.connect(config=config) as con:
        return con.execute(query, {"a": files_a, "b": files_b}).fetchone()[0]
