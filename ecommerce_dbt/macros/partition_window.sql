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

{#- A condition: the week `week` is the one before the window, [min_week - 7 days, min_week). -#}
{% macro week_before_window(week) -%}
    {{ week }} >= {{ window_start(-7) }}
      and {{ week }} < {{ window_start() }}
{%- endmacro %}

{#- The events a run needs to rebuild the sessions starting in [min_week - 7 days, max_week): those with
    a session, from [min_week - 7 days, max_week + 7 days), so a session crossing into the next week is
    complete. With `rebuilt` (a CTE of user_session), only those sessions' events. fct_sessions and
    int_session_products read the same. -#}
{% macro session_window_events(rebuilt=none) -%}
    select *
    from {{ ref('fct_events') }}
    where {{ in_window('event_week', -7, 7) }}
      and user_session is not null
    {%- if rebuilt %}
      and user_session in (select user_session from {{ rebuilt }})
    {%- endif %}
{%- endmacro %}

{#- The sessions an incremental run computes again (as user_session): every session with an event in the
    window, and each of the week before's sessions that reached into the window when `relation` was last
    built (`last_time`, its last event's time or day, at or after min_week): the window's events are
    rewritten, so it may have gained or lost some. The week before's other sessions cannot change. -#}
{% macro rebuilt_sessions(relation, session_id, session_week, last_time) -%}
    select user_session
    from {{ ref('fct_events') }}
    where {{ in_window('event_week') }}
      and user_session is not null
    union
    select {{ session_id }}
    from {{ relation }}
    where {{ week_before_window(session_week) }}
      and {{ last_time }} >= {{ window_start() }}
{%- endmacro %}

{#- The week before's rows of the model being built whose session (column `session_id`) this run does not
    compute again (`rebuilt`, a CTE of user_session): written back as they are. -#}
{% macro kept_sessions(session_id, rebuilt='rebuilt') -%}
    select * from {{ this }}
    where {{ week_before_window('session_week') }}
      and {{ session_id }} not in (select user_session from {{ rebuilt }})
{%- endmacro %}
