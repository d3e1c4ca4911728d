"""One module per layer: landing -> raw -> clean -> warehouse -> dbt."""
