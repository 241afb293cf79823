"""On the built-in ``demo`` raid, over three seeds, the optimal planner against
the two doctrines (``nearest``, ``missiles_first``): it defeats at least as many
drones, at least as many of the lethal ones (Shahed and jet drones), loses no
more value and spends less money. (The lethal count is the one that matters:
the optimal planner lets decoys pass by design — they carry no warhead — while
the doctrines spend shots on them and count them as defeats.)

On other seeds (4-6) the count in all and the money went the other way, while
the lethal count and the value lost held (docs/CLOSED_LOOP.md, "Other seeds"):
these three seeds are a regression check of this tracker and planner, not a
general claim.

The whole ``demo`` is simulated, tracked and engaged nine times (about three
minutes on the 2-core machine), hence ``slow``; it still runs with ``make test``.
"""

import pytest

from airshield.live.runner import compare_doctrines

SEEDS = (1, 2, 3)


@pytest.mark.slow
def test_optimal_beats_both_doctrines_on_demo():
    table = {r["planner"]: r for r in compare_doctrines("demo", SEEDS)["table"]}
    opt = table["optimal"]
    for name in ("nearest", "missiles_first"):
        doc = table[name]
        print(f"{name}: defeated {doc['defeated']} vs optimal {opt['defeated']}; "
              f"lethal defeated {doc['lethal_defeated']} vs {opt['lethal_defeated']}; "
              f"value lost {doc['value_lost']:,.0f} vs {opt['value_lost']:,.0f}; "
              f"spent {doc['money_spent']:,.0f} vs {opt['money_spent']:,.0f}")
        assert opt["lethal_threats"] == doc["lethal_threats"]  # the same raids
        assert opt["defeated"] >= doc["defeated"]
        assert opt["lethal_defeated"] >= doc["lethal_defeated"]
        assert opt["value_lost"] <= doc["value_lost"]
        assert opt["money_spent"] < doc["money_spent"]
