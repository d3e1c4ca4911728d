"""Spark code without Dagster: the cleaning rules (``rules``) and the week-range job that composes them (``pipeline``)."""
