"""Spark code without Dagster: pure transforms (``clean``) and the week-range job that drives them (``pipeline``)."""
