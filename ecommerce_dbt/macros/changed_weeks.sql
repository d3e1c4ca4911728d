{#-
What a history model (dimension, mart) must recompute on a refresh: the weeks whose facts were rebuilt
since it last refreshed, from core.int_weeks_built (one row per week, stamped when a weekly run rebuilds it),
plus the week before each, since a weekly run also completes the sessions that began the week before.
Each incremental history model records, after it runs, the newest stamp it has seen in
core.refresh_watermarks (post-hook). On a first build or a --full-refresh every week counts as changed,
so the same SQL builds the whole table: the incremental path and the full rebuild are one query over
different sets of weeks, and a test compares them row for row.
-#}

{% macro watermarks_relation() -%}
    {{ api.Relation.create(database=target.database, schema=generate_schema_name('core', none), identifier='refresh_watermarks') }}
{%- endmacro %}

{#- on-run-start (two statements, one each): the bookkeeping table exists before any model reads it. -#}
{% macro create_core_schema() -%}
    create schema if not exists {{ api.Relation.create(database=target.database, schema=generate_schema_name('core', none)).include(identifier=false) }}
{%- endmacro %}
{% macro create_refresh_watermarks() -%}
    create table if not exists {{ watermarks_relation() }} (model_name varchar, refreshed_at timestamp)
{%- endmacro %}

{#- post-hooks of the history folders (rendered when a model runs, hence strings in dbt_project.yml): an
    incremental model remembers the newest week stamp it has now processed; for a table they render to
    nothing, which dbt skips. -#}
{% macro forget_watermark() -%}
    {%- if config.get('materialized') == 'incremental' -%}
    delete from {{ watermarks_relation() }} where model_name = '{{ this.identifier }}'
    {%- endif -%}
{%- endmacro %}
{% macro record_watermark() -%}
    {%- if config.get('materialized') == 'incremental' -%}
    insert into {{ watermarks_relation() }} select '{{ this.identifier }}', max(refreshed_at) from {{ ref('int_weeks_built') }}
    {%- endif -%}
{%- endmacro %}

{#- A select of the Monday dates to recompute (see above). -#}
{% macro changed_weeks() -%}
    {%- set stamped -%}
        select event_week from {{ ref('int_weeks_built') }}
        {%- if is_incremental() %}
        where refreshed_at > coalesce(
            (select max(refreshed_at) from {{ watermarks_relation() }} where model_name = '{{ this.identifier }}'),
            cast('1900-01-01' as timestamp))
        {%- endif %}
    {%- endset -%}
    select event_week from ({{ stamped }}) as rebuilt
    union
    select {{ add_days('event_week', -7) }} from ({{ stamped }}) as rebuilt_next
{%- endmacro %}

{#- A select of the first days of the months the changed weeks touch (a week spans at most two). -#}
{% macro changed_months() -%}
    select {{ month_start('event_week') }} as month_start from ({{ changed_weeks() }}) as weeks
    union
    select {{ month_start(add_days('event_week', 6)) }} from ({{ changed_weeks() }}) as weeks
{%- endmacro %}

{#- The rows of a weekly part for every key (user, product) seen in the changed weeks, all their weeks:
    what an incremental dimension recomputes those keys from. On a full build, every row. -#}
{% macro parts_of_changed_keys(part, key, week_column='event_week') -%}
    select parts.*
    from {{ part }} as parts
    {%- if is_incremental() %}
    where parts.{{ key }} in (
        select {{ key }} from {{ part }} where {{ week_column }} in ({{ changed_weeks() }})
    )
    {%- endif %}
{%- endmacro %}
