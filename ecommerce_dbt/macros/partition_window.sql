{#- The partition window of the incremental models: the half-open week range [min_week, max_week) that
    Dagster passes as --vars (the defaults in dbt_project.yml cover all history). -#}

{#- The window's bounds as dates, optionally shifted by offset_days. -#}
{% macro window_start(offset_days=0) -%}
    {{ add_days("'" ~ var('min_week') ~ "'", offset_days) }}
{%- endmacro %}
{% macro window_end(offset_days=0) -%}
    {{ add_days("'" ~ var('max_week') ~ "'", offset_days) }}
{%- endmacro %}

{#- A condition: the week `week` (a Monday date, column or expression) lies in the window, half-open,
    its bounds shifted by start_offset_days and end_offset_days. Never BETWEEN. -#}
{% macro in_window(week, start_offset_days=0, end_offset_days=0) -%}
    {{ week }} >= {{ window_start(start_offset_days) }}
      and {{ week }} < {{ window_end(end_offset_days) }}
{%- endmacro %}

{#- The events a run needs to rebuild the sessions starting in [min_week - 7 days, max_week): those with
    a session, from [min_week - 7 days, max_week + 7 days), so a session crossing into the next week is
    complete. fct_sessions and int_session_products read the same. -#}
{% macro session_window_events() -%}
    select *
    from {{ ref('fct_events') }}
    where {{ in_window('event_week', -7, 7) }}
      and user_session is not null
{%- endmacro %}
