"""Published figures of the real dataset (../shared/reference/dataset_profile.md), in one place.

Counts are for the full dumps; ``scaled=True`` figures are multiplied by the scale before comparing.
"""

from __future__ import annotations

from dataclasses import dataclass

MONTH_ROWS = {
    "2019-10": 42_448_764,
    "2019-11": 67_501_979,
    "2019-12": 67_542_878,
    "2020-01": 55_967_041,
    "2020-02": 55_318_565,
    "2020-03": 56_341_241,
    "2020-04": 66_589_268,
}
TOTAL_ROWS = 411_709_736
# (view, cart, purchase) events per month; January..April are published together.
MONTH_TYPES = {
    "2019-10": (40_779_399, 926_516, 742_849),
    "2019-11": (63_556_110, 3_028_930, 916_939),
    "2019-12": (62_986_067, 3_394_763, 1_162_048),
    "2020-01..04": (218_425_273, 11_763_854, 4_026_988),
}
TOTAL_TYPES = (385_746_849, 19_114_063, 6_848_824)
PRICE_CAP = 2574.07


@dataclass(frozen=True)
class Figure:
    """One published figure: ``key`` names the profile value it is compared with."""

    key: str
    value: float
    scaled: bool = False
    # Figures that only hold at (near) full scale are shown but not held to the tolerance below it.
    min_scale: float = 0.0
    note: str = ""

    @property
    def seven_months(self) -> bool:
        """A figure over the seven months together (no month in its key; brand shares too): held only
        against files that hold all seven. Format figures and the daily correlation hold for any months."""
        return ("[" not in self.key or self.key.startswith("brand_revenue_share[")) and self.key not in (
            "price_max", "price_two_decimals", "daily_correlation")


def _share(n: int, d: int) -> float:
    return n / d


FIGURES: tuple[Figure, ...] = (
    *(Figure(f"rows[{m}]", v, scaled=True) for m, v in MONTH_ROWS.items()),
    Figure("rows", TOTAL_ROWS, scaled=True),
    *(
        Figure(f"share_{t}[{m}]", _share(c[i], sum(c)))
        for m, c in MONTH_TYPES.items()
        for i, t in enumerate(("view", "cart", "purchase"))
        if t != "view"
    ),
    Figure("share_cart", _share(TOTAL_TYPES[1], TOTAL_ROWS)),
    Figure("share_purchase", _share(TOTAL_TYPES[2], TOTAL_ROWS)),
    Figure("null_category_code[2019-10]", _share(13_515_609, MONTH_ROWS["2019-10"])),
    Figure("null_category_code[2019-11]", _share(21_898_171, MONTH_ROWS["2019-11"])),
    Figure("null_category_code[2020-04]", _share(6_755_873, MONTH_ROWS["2020-04"])),
    Figure("null_brand[2019-10]", _share(6_113_008, MONTH_ROWS["2019-10"])),
    Figure("null_brand[2019-11]", _share(9_220_000, MONTH_ROWS["2019-11"])),
    Figure("null_brand[2020-04]", _share(8_985_057, MONTH_ROWS["2020-04"])),
    Figure("duplicate_rate", _share(1_384_422, TOTAL_ROWS)),
    Figure("duplicate_rate[2019-11]", _share(100_519, MONTH_ROWS["2019-11"])),
    Figure("users_per_event[2019-10]", _share(3_022_290, MONTH_ROWS["2019-10"])),
    Figure("users_per_event[2019-11]", _share(3_696_117, MONTH_ROWS["2019-11"])),
    Figure("users_per_event", _share(15_639_803, TOTAL_ROWS)),
    Figure("sessions_per_event[2019-10]", _share(9_244_421, MONTH_ROWS["2019-10"])),
    Figure("sessions_per_event[2019-11]", _share(13_776_050, MONTH_ROWS["2019-11"])),
    Figure("sessions_per_event", _share(89_693_595, TOTAL_ROWS)),
    Figure("products[2019-10]", 166_794, min_scale=0.5, note="catalog size: does not shrink with volume"),
    Figure("products", 386_299, min_scale=0.5, note="catalog size"),
    Figure("categories", 1_325, min_scale=0.5, note="catalog size"),
    Figure("brands[2019-11]", 4_200, min_scale=0.5, note="catalog size"),
    Figure("price_mean[2019-10]", 290.32),
    Figure("price_zero_share[2019-10]", _share(68_673, MONTH_ROWS["2019-10"])),
    Figure("price_max", PRICE_CAP),
    Figure("price_two_decimals", 1.0),
    Figure("revenue[2019-10]", 229_957_502.27, scaled=True),
    Figure("revenue[2019-11]", 275_194_890.50, scaled=True),
    Figure("revenue", 2_057_447_000, scaled=True),
    Figure("price_per_purchase[2019-10]", 309.56),
    Figure("price_per_purchase[2019-11]", 300.12),
    Figure("buyers_per_event[2019-10]", _share(347_118, MONTH_ROWS["2019-10"])),
    Figure("buyers_per_event[2019-11]", _share(441_638, MONTH_ROWS["2019-11"])),
    Figure("buyers_per_event", _share(2_064_899, TOTAL_ROWS)),
    Figure("purchase_sessions_per_event[2019-10]", _share(629_560, MONTH_ROWS["2019-10"])),
    Figure("purchase_sessions_per_event", _share(5_449_933, TOTAL_ROWS)),
    Figure("brand_revenue_share[apple]", 929.3 / 2057.447),
    Figure("brand_revenue_share[samsung]", 425.4 / 2057.447),
    Figure("brand_revenue_share[xiaomi]", 91.4 / 2057.447),
    Figure("view_sessions_with_cart", _share(10_715_052, 89_479_619)),
    Figure("view_sessions_with_purchase", _share(5_449_933, 89_479_619)),
    Figure("cart_sessions_purchasing", 0.459),
    Figure("purchase_sessions_without_cart", _share(530_292, 5_449_933)),
    Figure("session_events_median", 2),
    Figure("session_events_mean", 4.59),
    Figure("session_seconds_median", 42),
    Figure("repeat_buyers_m1", 0.194, note="month-1 retention of first-purchase cohorts, averaged Oct..Mar"),
    Figure("repeat_buyers_m1[2019-10]", 0.263),
    Figure("daily_correlation", 0.98, note="Pearson r of events per day with the real series; must be at least this"),
)
