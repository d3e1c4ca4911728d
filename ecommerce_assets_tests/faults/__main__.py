"""``python -m ecommerce_assets_tests.faults child SPEC``: the child process of a scenario."""

import json
import os
import sys

from ecommerce_assets_tests.faults.child import _Child

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "child":
        os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")
        sys.exit(_Child(json.loads(sys.argv[2])).run())
    sys.exit("usage: python -m ecommerce_assets_tests.faults child SPEC")
