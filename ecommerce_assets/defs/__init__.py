"""Every Dagster definition, one folder per domain, loaded by ``dg.load_from_defs_folder`` (definitions.py):

landing (the monthly dumps and the sensor that watches them), raw (weekly raw parts), clean (Spark),
warehouse (raw.events), dbt (facts, dimensions, marts), reports (dashboard), replay (schedule and sensor
that replay history), housekeeping (run purge). Beside them, what several domains share: partitions,
resources and executor, jobs, automation, checks and step helpers."""
