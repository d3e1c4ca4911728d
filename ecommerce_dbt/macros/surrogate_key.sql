{#- A deterministic key from columns: MD5 of their text values joined by '|', null as '~'. Plain SQL that
    DuckDB and Snowflake both run, so it needs no dispatch. -#}
{% macro surrogate_key(columns) -%}
    md5({% for column in columns %}coalesce(cast({{ column }} as varchar), '~'){% if not loop.last %} || '|' || {% endif %}{% endfor %})
{%- endmacro %}
