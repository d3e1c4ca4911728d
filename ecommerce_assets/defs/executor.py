"""The executor of every job."""

import dagster as dg


@dg.definitions
def executor() -> dg.Definitions:
    # Steps run in processes forked from a server that imported the code location and the instance's
    # storage once per run (step_preload.py), instead of importing them again per step ("spawn").
    return dg.Definitions(executor=dg.multiprocess_executor.configured(
        {"start_method": {"forkserver": {"preload_modules": ["ecommerce_assets.step_preload"]}}}
    ))
