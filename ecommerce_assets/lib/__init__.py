"""The library: plain Python that knows nothing of Dagster (lake, raw split, Spark rules and pipeline,
generator, dashboard page, settings). The Dagster definitions in ``ecommerce_assets.defs`` call it; so
do the ``ecommerce`` command, the tests and the benchmarks."""
