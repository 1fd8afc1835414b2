"""The run's spend from its instances and volumes: given prices, EC2's launch times, last-seen times."""

import datetime

from ansible_collections.genomics.cactus.plugins.module_utils import cactus_spend as s

NOW = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)
PRICES = {"on-demand": {"m5.large": 0.096, "c5.4xlarge": 0.68}, "spot": {"c5.4xlarge": 0.25}}


def _i(iid, kind, launched, state="running", spot=False):
    out = {"InstanceId": iid, "InstanceType": kind, "LaunchTime": launched, "State": {"Name": state}}
    if spot:
        out["InstanceLifecycle"] = "spot"
    return out


def test_spend_by_hand():
    instances = [
        _i("i-leader", "m5.large", "2026-12-06T10:00:00+00:00"),                      # 2 h on demand
        _i("i-w1", "c5.4xlarge", "2026-12-06T11:30:00Z", spot=True),                  # 0.5 h spot
        _i("i-w2", "c5.4xlarge", "2026-12-06T10:00:00Z", state="terminated"),        # to last seen: 1 h
        _i("i-w3", "r5.8xlarge", "2026-12-06T11:00:00Z", spot=True),                  # no price
    ]
    volumes = [{"Size": 100, "CreateTime": "2026-12-06T10:00:00Z"}]
    result = s.spend(instances, volumes, PRICES, NOW, {"i-w2": "2026-12-06T11:00:00Z"}, 0.08)
    by_hand_instances = 2 * 0.096 + 0.5 * 0.25 + 1 * 0.68
    by_hand_volumes = 100 * 0.08 * 2 / 730
    assert result["total"] == round(by_hand_instances + by_hand_volumes, 4)
    assert result["rate"] == round(0.096 + 0.25 + 100 * 0.08 / 730, 4)  # what runs now, priced
    assert result["unknown"] == ["r5.8xlarge (spot)"]
    assert s.spend_text(result).endswith("(no price for r5.8xlarge (spot): not counted)")


def test_unknown_volume_price_said_not_guessed_and_the_ceiling():
    result = s.spend([_i("i-1", "m5.large", "2026-12-06T11:00:00Z")], [{"Size": 50, "CreateTime": NOW}],
                     PRICES, NOW)
    assert result["total"] == 0.096 and result["volumes_unknown"]
    assert "50 GB of volumes" in s.spend_text(result)
    assert s.over_ceiling(result, 0.05) and not s.over_ceiling(result, 0.1)
    assert not s.over_ceiling(result, None)
