{#- Date/time arithmetic behind one name each, so the same models run on DuckDB and Snowflake. -#}

{% macro seconds_between(start, end) -%}
    {{ return(adapter.dispatch('seconds_between')(start, end)) }}
{%- endmacro %}
{% macro default__seconds_between(start, end) -%}datediff('second', {{ start }}, {{ end }}){%- endmacro %}
{% macro duckdb__seconds_between(start, end) -%}date_diff('second', {{ start }}, {{ end }}){%- endmacro %}

{% macro days_between(start, end) -%}
    {{ return(adapter.dispatch('days_between')(start, end)) }}
{%- endmacro %}
{% macro default__days_between(start, end) -%}datediff('day', {{ start }}, {{ end }}){%- endmacro %}
{% macro duckdb__days_between(start, end) -%}date_diff('day', cast({{ start }} as date), cast({{ end }} as date)){%- endmacro %}

{% macro weeks_between(start, end) -%}
    ({{ days_between(start, end) }} / 7)
{%- endmacro %}

{% macro months_between(start, end) -%}
    {{ return(adapter.dispatch('months_between')(start, end)) }}
{%- endmacro %}
{% macro default__months_between(start, end) -%}datediff('month', {{ start }}, {{ end }}){%- endmacro %}
{% macro duckdb__months_between(start, end) -%}date_diff('month', cast({{ start }} as date), cast({{ end }} as date)){%- endmacro %}

{#- Monday of the ISO week; Snowflake's week start follows WEEK_START, so truncate by arithmetic instead. -#}
{% macro week_start(day) -%}
    {{ return(adapter.dispatch('week_start')(day)) }}
{%- endmacro %}
{% macro default__week_start(day) -%}dateadd('day', -(dayofweekiso(cast({{ day }} as date)) - 1), cast({{ day }} as date)){%- endmacro %}
{% macro duckdb__week_start(day) -%}cast(date_trunc('week', cast({{ day }} as date)) as date){%- endmacro %}

{% macro month_start(day) -%}
    cast(date_trunc('month', cast({{ day }} as date)) as date)
{%- endmacro %}

{% macro add_days(day, n) -%}
    {{ return(adapter.dispatch('add_days')(day, n)) }}
{%- endmacro %}
{% macro default__add_days(day, n) -%}dateadd('day', {{ n }}, cast({{ day }} as date)){%- endmacro %}
{% macro duckdb__add_days(day, n) -%}cast(cast({{ day }} as date) + to_days(cast({{ n }} as integer)) as date){%- endmacro %}

{#- ISO weekday 1 = Monday .. 7 = Sunday. -#}
{% macro iso_weekday(ts) -%}
    {{ return(adapter.dispatch('iso_weekday')(ts)) }}
{%- endmacro %}
{% macro default__iso_weekday(ts) -%}dayofweekiso({{ ts }}){%- endmacro %}
{% macro duckdb__iso_weekday(ts) -%}isodow({{ ts }}){%- endmacro %}

{#- Dates from start to end inclusive. -#}
{% macro date_series(start, end) -%}
    {{ return(adapter.dispatch('date_series')(start, end)) }}
{%- endmacro %}
{% macro default__date_series(start, end) -%}
    select date_day
    from (
        select dateadd('day', row_number() over (order by seq4()) - 1, cast({{ start }} as date)) as date_day
        from table(generator(rowcount => 4000))
    ) as days
    where date_day <= cast({{ end }} as date)
{%- endmacro %}
{% macro duckdb__date_series(start, end) -%}
    select cast(range as date) as date_day
    from range(cast({{ start }} as date), cast({{ end }} as date) + interval 1 day, interval 1 day)
{%- endmacro %}
