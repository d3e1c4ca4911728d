"""Fault injection, shared by test_faults.py and bench/faults.py: a pipeline stage run in a child process
and killed with SIGKILL at a chosen point, and what the lake and the warehouse must look like afterwards.

A scenario works on a copy of a *reference* data folder in which the weeks W1 and W2 went through every
stage with no fault. The killed run materializes one stage again on the same inputs, so whichever
generation each partition is at after the kill, its rows must be the reference's: every difference is
a row lost or a half-written partition. Then a plain rerun of the stage must give the reference's rows
again (clean rows and event_ids, warehouse and mart rows; compared as sorted rows, not file bytes).

Kill points are named: a *marker* point makes the child pause (or just report) at a place in the code
(the child patches the function that gets there, writes a marker file and sleeps; the parent kills it
when the marker appears); a *timed* point kills after a delay drawn from a seeded RNG within the stage's
measured duration, counted from an anchor marker (the stage's start, or Spark's session being up).
Whom the kill hits: the child's whole process group (the run's process, Spark's JVM, dbt: a crash of
the machine or the container), the Python driver only, Spark's JVM only, or dbt only.

The child is ``python -m ecommerce_assets_tests.faults child SPEC`` (``__main__.py``); everything else runs in the
caller. One module per concern: ``folders`` (scenario data, one stage run), ``points`` (where to kill),
``child`` (its hooks), ``kill`` (start, kill, outcome), ``state`` (what a folder holds), ``scenarios``
(references, kill and rerun) and ``disk_full``.
"""

# The package's face: what the tests and bench/faults.py use, each from the module of its concern.
from ecommerce_assets_tests.faults.disk_full import DISK_FULL_WEEKS, DiskFullReport, disk_full_scenario, names_the_disk, small_disk
from ecommerce_assets_tests.faults.folders import PIPELINE_STAGES, STAGES, Folder
from ecommerce_assets_tests.faults.kill import cmdline, descendants, parent
from ecommerce_assets_tests.faults.points import Point, choose, points
from ecommerce_assets_tests.faults.scenarios import Reference, Report, build_reference, generate_reference, kill_scenario, land_reference
from ecommerce_assets_tests.faults.state import differences, lake_state, rows_lost, warehouse_state

__all__ = [
    "DISK_FULL_WEEKS", "PIPELINE_STAGES", "STAGES", "DiskFullReport", "Folder", "Point", "Reference", "Report",
    "build_reference", "choose", "cmdline", "descendants", "differences", "disk_full_scenario", "generate_reference",
    "kill_scenario", "lake_state", "land_reference", "names_the_disk", "parent", "points", "rows_lost", "small_disk",
    "warehouse_state",
]
