{#- Date arithmetic on top of dbt-core's cross-database macros (dbt.dateadd, dbt.date_trunc, dbt.datediff),
    with what they lack: results typed as dates, Monday weeks whatever Snowflake's WEEK_START, ISO
    weekdays, and a series of days between two column values (dbt.date_spine needs its bounds when it
    compiles). -#}

{#- Whole weeks between two Mondays (a fraction otherwise). -#}
{% macro weeks_between(start, end) -%}
    ({{ dbt.datediff('cast(' ~ start ~ ' as date)', 'cast(' ~ end ~ ' as date)', 'day') }} / 7)
{%- endmacro %}

{#- Monday of the ISO week; Snowflake's week start follows WEEK_START, so truncate by arithmetic instead. -#}
{% macro week_start(day) -%}
    {{ return(adapter.dispatch('week_start')(day)) }}
{%- endmacro %}
{% macro default__week_start(day) -%}dateadd('day', -(dayofweekiso(cast({{ day }} as date)) - 1), cast({{ day }} as date)){%- endmacro %}
{% macro duckdb__week_start(day) -%}cast(date_trunc('week', cast({{ day }} as date)) as date){%- endmacro %}

{% macro month_start(day) -%}
    cast({{ dbt.date_trunc('month', 'cast(' ~ day ~ ' as date)') }} as date)
{%- endmacro %}

{% macro add_days(day, n) -%}
    cast({{ dbt.dateadd('day', n, 'cast(' ~ day ~ ' as date)') }} as date)
{%- endmacro %}

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
