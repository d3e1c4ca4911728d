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
