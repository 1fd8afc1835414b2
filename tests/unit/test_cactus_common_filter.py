"""cactus_common's shared checks: the first problem is the one message, each message names the fix."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "cactus_common", Path(__file__).parents[2] / "plugins" / "filter" / "cactus_common.py"
)
cactus_common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cactus_common)
problem = cactus_common.cactus_common_problem

OK = {"cluster_name": "c1", "inventory_cluster_name": "c1", "use_private_ip": False,
      "inventory_use_private_ip": False, "key_pair_name": "my-key"}


def test_nothing_wrong():
    assert problem("2.19.4", **OK) == ""
    assert problem("2.20.0", host_run=True, sample_interval="60") == ""


def test_old_ansible_first():
    assert problem("2.18.6", inventory_error="boom", sample_interval=0).startswith(
        "ansible-core >= 2.19 is required (found 2.18.6): run ./run.sh")


@pytest.mark.parametrize(("key_pair", "also"), [("", True), ("my-key-pair", True), ("lab-key", False)])
def test_inventory_error_with_the_example_key_pair(key_pair, also):
    said = problem("2.19.4", inventory_error="toil_cluster inventory: no AWS credentials found",
                   key_pair_name=key_pair)
    assert said.startswith("no AWS credentials found")
    assert ("Also set toil_key_pair_name (now the example" in said) is also


def test_inventory_error_ignored_on_a_host_run():
    assert problem("2.19.4", host_run=True, inventory_error="no AWS credentials found") == ""


@pytest.mark.parametrize("old", ["toil_prereqs_fail_on_quota", "toil_prereqs_lookup_prices"])
def test_renamed_settings(old):
    said = problem("2.19.4", set_names=["toil_prereqs_restart", old], **OK)
    assert "toil_prereqs_fail_on_quota is now toil_capacity_fail_on_quota" in said
    assert said.endswith("Fix: rename them where you set them.")
    assert problem("2.19.4", set_names=["toil_prereqs_restart", "toil_prereqs_account"], **OK) == ""


@pytest.mark.parametrize("interval", [0, 3601, "often", None, "-5"])
def test_sample_interval_out_of_range(interval):
    said = problem("2.19.4", sample_interval=interval, **OK)
    assert said.startswith(f"cactus_sample_interval is {interval}: ") and "from 1 to 3600" in said


def test_cluster_name_differs_from_the_inventory():
    said = problem("2.19.4", **{**OK, "cluster_name": "c2"})
    assert said.startswith("toil_cluster_name is 'c2' but the inventory (inventory/toil_cluster.yml) finds "
                           "cluster 'c1'.")
    assert problem("2.19.4", **{**OK, "inventory_cluster_name": None, "cluster_name": "c2"}) == ""


@pytest.mark.parametrize(("mine", "inventory", "said_mine", "address"),
                         [(True, False, True, "public"), ("no", "yes", False, "private")])
def test_private_addressing_differs_from_the_inventory(mine, inventory, said_mine, address):
    said = problem("2.19.4", **{**OK, "use_private_ip": mine, "inventory_use_private_ip": inventory})
    assert said.startswith(f"toil_use_private_ip: it is {said_mine} but the inventory")
    assert f"connects to the leader's {address} address" in said
    assert problem("2.19.4", host_run=True, use_private_ip=mine, inventory_use_private_ip=inventory) == ""
