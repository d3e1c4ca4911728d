"""The pipeline's stages by name, in order (no Dagster import: the fault suite's parent and the benchmarks'
argument parsing use the names before any code location loads). helpers.STAGES maps each to its assets."""

PIPELINE_STAGES = ["raw split", "spark clean", "warehouse load", "weekly dbt", "history dbt", "dashboard"]
# The stages that run per week; the others run over every loaded week.
WEEKLY_STAGES = tuple(PIPELINE_STAGES[:4])
