{#- dbt's `where` test config, with one addition: a test of a weekly model reads only the run's window.

    Configured as `config: {where: "in_window('event_week')"}` (arguments as the in_window macro's:
    column, then optional start and end offsets in days, e.g. "in_window('session_week', -7)"), the
    test reads (select * from model where <in_window(...)>) and so checks the weeks the run rebuilt; a
    plain `dbt build` (the vars' defaults cover all history) still tests every row. dbt renders `where`
    when it parses the .yml, where the project's macros are not available, so the call is written as
    text and expanded here, when the test compiles with the run's --vars. Any other `where` works as in
    dbt's own get_where_subquery. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') or '' -%}
    {%- set call = modules.re.fullmatch("in_window[(]'([a-z_0-9]+)'(?:, *(-?[0-9]+))?(?:, *(-?[0-9]+))?[)]", where | trim) -%}
    {%- if call -%}
        {%- set where = in_window(call.group(1), (call.group(2) or 0) | int, (call.group(3) or 0) | int) -%}
    {%- elif 'in_window' in where -%}
        {{ exceptions.raise_compiler_error(
            "where: write in_window('column'[, start_offset_days[, end_offset_days]]) alone, got: " ~ where) }}
    {%- endif -%}
    {%- if where -%}
        {%- do return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
