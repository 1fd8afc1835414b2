"""The default spot node type's bid follows the type (toil_spot_bid 0): its on-demand price, known from
the user's prices or the Price List API, else its us-east-1 price; a given toil_spot_bid wins."""

import types

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import (
    DEFAULT_SPOT_BID,
    DEFAULT_SPOT_TYPE,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_sizing import (
    FALLBACK_ON_DEMAND_PRICES,
    default_spot_bid,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_step_plan import PREPARE_TOIL_SPOT_TYPE
from test_plan import BIRD, plan_for
from test_step_plan import facts, prepare_plan  # noqa: F401 - the moto DescribeInstanceTypes fixture


def test_the_default_bid_is_the_types_on_demand_price():
    assert DEFAULT_SPOT_BID == 0 and set(FALLBACK_ON_DEMAND_PRICES) == {
        DEFAULT_SPOT_TYPE,
        PREPARE_TOIL_SPOT_TYPE,
    }
    assert default_spot_bid("m5.12xlarge") == 2.304
    assert default_spot_bid("m5.12xlarge", 0, {"m5.12xlarge": 2.45}) == 2.45
    assert default_spot_bid("m5.12xlarge", 1.1, {"m5.12xlarge": 2.45}) == 1.1
    assert plan_for([BIRD] * 2)["node_types"][0] == "c4.8xlarge:1.591"
    assert plan_for([BIRD] * 2, on_demand_prices={"c4.8xlarge": 1.75})["node_types"][0] == "c4.8xlarge:1.75"
    assert plan_for([BIRD] * 2, spot_bid=0.9)["node_types"][0] == "c4.8xlarge:0.9"


def test_prepare_toils_default_spot_type_follows_its_price(facts):  # noqa: F811
    assert prepare_plan([BIRD] * 2, facts)["node_types"][0] == "m5.12xlarge:2.304"
    plan = prepare_plan([BIRD] * 2, facts, on_demand_prices={"m5.12xlarge": 2.5})
    assert plan["node_types"][0] == "m5.12xlarge:2.5"
    assert plan["cost_per_hour"]["lines"][0]["unit_price"] == 2.5  # the ceiling counts the bid


def test_the_price_look_up_asks_for_the_default_spot_type(plan_module, monkeypatch):
    """With toil_spot_bid 0 and the default node types, the Price List look-up includes the spot type,
    and the plan is rebuilt with its price as the bid; a given bid or node types leave it out."""
    asked = []

    def prices(region, wanted):
        asked.append(sorted(wanted))
        return {t: 2.5 if t == "m5.12xlarge" else 1.0 for t in wanted}, None

    monkeypatch.setattr(plan_module.toil_aws, "on_demand_prices", prices)
    plan = {
        "leader_node_type": "m5.large",
        "node_types": ["m5.12xlarge:2.304", "r5.24xlarge"],
        "warnings": [],
    }
    settings = types.SimpleNamespace(spot_bid=0, node_types=None, on_demand_prices={})
    monkeypatch.setattr(plan_module, "build_plan", lambda s, m, st: {"bid_from": dict(st.on_demand_prices)})
    rebuilt = plan_module._with_prices(plan, None, None, settings, "us-west-2")
    assert asked == [["m5.12xlarge", "m5.large", "r5.24xlarge"]] and rebuilt["bid_from"]["m5.12xlarge"] == 2.5
    asked.clear()
    plan_module._with_prices(
        plan,
        None,
        None,
        types.SimpleNamespace(spot_bid=1.2, node_types=None, on_demand_prices={}),
        "us-west-2",
    )
    assert asked == [["m5.large", "r5.24xlarge"]]
