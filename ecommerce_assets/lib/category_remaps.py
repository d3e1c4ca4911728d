"""The reviewed category remaps (dbt seed ``category_remaps``) and the candidates detected in the warehouse.

``core.int_category_moves`` finds the moves; this module lists its remap candidates and adds the ones the
seed does not hold yet, as ``detected`` rows a person then confirms or rejects. Reviewed rows are never
changed here.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ecommerce_assets.lib.settings import DBT_PROJECT_DIR

SEED = DBT_PROJECT_DIR / "seeds" / "category_remaps.csv"
FIELDS = (
    "observed_category_id", "observed_category_code", "canonical_category_id", "canonical_category_code",
    "valid_from", "valid_to", "products_moved", "share_of_products_moved", "status", "note",
)
CANDIDATES_SQL = """
select from_category_id, from_category_code, to_category_id, to_category_code, products_moved,
       share_of_products_moved, first_moved_on, review_status
from core.int_category_moves
where is_remap_candidate
order by products_moved desc, from_category_id, to_category_id
"""


def read_seed(path: Path = SEED) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise ValueError(f"{path}: header is {reader.fieldnames}; expected {list(FIELDS)}")
        return list(reader)


def write_seed(rows: list[dict[str, str]], path: Path = SEED) -> None:
    staged = path.with_suffix(".csv.tmp")
    with open(staged, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    staged.replace(path)  # a reader never sees half a file


def merge(seed: list[dict[str, str]], candidates: list[tuple[Any, ...]]) -> list[dict[str, str]]:
    """The seed's rows plus a ``detected`` row per candidate move it does not hold (reviewed rows kept)."""
    held = {(row["observed_category_id"], row["canonical_category_id"]) for row in seed}
    added = []
    for from_id, from_code, to_id, to_code, moved, share, first_moved_on, _ in candidates:
        if (str(to_id), str(from_id)) in held:
            continue
        added.append({
            "observed_category_id": str(to_id), "observed_category_code": to_code or "",
            "canonical_category_id": str(from_id), "canonical_category_code": from_code or "",
            "valid_from": str(first_moved_on), "valid_to": "", "products_moved": str(moved),
            "share_of_products_moved": f"{share:.4f}" if share is not None else "", "status": "detected",
            "note": f"{moved} products left {from_id} for {to_id} from {first_moved_on}; review, then set status",
        })
    return seed + added
