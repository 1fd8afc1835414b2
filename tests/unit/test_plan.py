"""Cluster and host plans: size classes, the seed table, names, costs, and every command line checked
by Toil.

The cactus command lines are parsed by a NEW Toil workflow parser per check (Job.Runner's, plus the
options Cactus v3.2.1 adds in cactus_progressive.main) and loaded with Config().setOptions; the
launch-cluster command lines go through Toil's real `toil launch-cluster` main() with the cloud
calls replaced by a recorder.
"""

import functools
import gzip
import http.server
import itertools
import json
import math
import os
import struct
import subprocess
import sys
import threading
import types
import zlib
from pathlib import Path

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_measure
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_command import NO_CLUSTER_FIX
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_governed import check_run_tag
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_paths import output_kind
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_plan import (
    PlanError,
    PlanSettings,
    build_plan,
    region_of,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_seqfile import parse_seqfile_text
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import (
    CLUSTER_BATCH_SYSTEMS,
    NO_TARGET_HOST_FIX,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_sizing import (
    BIRD_MAX_BYTES,
    NEMATODE_MAX_BYTES,
    SMALL_MAX_BYTES,
    cost_ceiling,
    node_counts,
    parse_node_type,
    seed_node_counts,
    single_machine_recommended,
    size_class,
)
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import (
    CLUSTER_NAME_MAX,
    check_cluster_name,
    check_jobstore_name,
    names_conflict,
    toil_claims,
    toil_role_name,
)

REPO = Path(__file__).resolve().parents[2]
ZONE = "us-west-2a"
GB = 10**9
MAMMAL, BIRD, NEMATODE, SMALL = 3 * GB, 1_500_000_000, 200_000_000, 5_000_000


def caterpillar_seqfile(count, prefix="g"):
    """A seqFile of `count` local genomes under a binary (caterpillar) tree."""
    names = [f"{prefix}{i}" for i in range(count)]
    tree = names[0]
    for name in names[1:]:
        tree = f"({tree},{name})"
    lines = [tree + ";"] + [f"{name} genomes/{name}.fa" for name in names]
    return parse_seqfile_text("\n".join(lines) + "\n", "/data/seq.txt")


def plan_for(sizes, **overrides):
    """A plan for genomes of the given sizes (bytes, or None for unknown): the progressive workflow
    (cactus itself, the seed guide's sizing) unless told; test_step_plan.py tests prepare_toil."""
    seqfile = caterpillar_seqfile(len(sizes))
    measurements = {f"g{i}": {"size": size} for i, size in enumerate(sizes)}
    settings = dict(cluster_name="cactus-test", zone=ZONE, key_pair_name="my-key", output="s3://bucket/out.hal",
                    workflow="progressive")
    settings.update(overrides)
    return build_plan(seqfile, measurements, PlanSettings(**settings))


# ---- Size classes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size,expected", [
    (0, "small"), (SMALL_MAX_BYTES - 1, "small"),
    (SMALL_MAX_BYTES, "nematode"), (NEMATODE_MAX_BYTES - 1, "nematode"),
    (NEMATODE_MAX_BYTES, "bird"), (BIRD_MAX_BYTES - 1, "bird"),
    (BIRD_MAX_BYTES, "mammal"), (40 * GB, "mammal"),
    (None, "unknown"),
])
def test_size_class_boundaries(size, expected):
    assert size_class(size) == expected


def test_boundaries_are_the_documented_ones():
    assert (SMALL_MAX_BYTES, NEMATODE_MAX_BYTES, BIRD_MAX_BYTES) == (100 * 10**6, 10**9, 2 * 10**9)


# ---- The seed table -------------------------------------------------------------------------------

SEED_CASES = [
    # (genome classes, spot max, on-demand max): the guide's rows, rounded up
    (["mammal"] * 4, 40, 2),
    (["mammal"] * 2, 20, 1),
    (["mammal"] * 1, 10, 1),
    (["mammal"] * 3, 30, 2),
    (["mammal"] * 5, 50, 3),
    (["bird"] * 4, 20, 1),
    (["bird"] * 1, 5, 1),
    (["bird"] * 3, 15, 1),
    (["bird"] * 5, 25, 2),
    (["bird"] * 8, 40, 2),
    (["nematode"] * 10, 5, 1),
    (["nematode"] * 1, 1, 1),
    (["nematode"] * 3, 2, 1),
    (["nematode"] * 11, 6, 2),
    (["nematode"] * 20, 10, 2),
    (["nematode"] * 30, 15, 3),
    (["small"] * 10, 5, 1),
    # mixed: each class adds its share, the sum is rounded up once
    (["mammal", "mammal", "bird", "bird"], 30, 2),  # 20 + 10; 1 + 0.5 = 1.5 -> 2
    (["mammal", "nematode"], 11, 1),  # 10.5 -> 11; 0.6 -> 1
    (["bird", "bird", "nematode", "nematode"], 11, 1),  # 10 + 1; 0.5 + 0.2 -> 1
    (["bird"] * 2 + ["nematode"] * 5, 13, 1),  # 10 + 2.5 -> 13; 0.5 + 0.5 = 1 exactly
    (["small"] * 3 + ["bird"], 7, 1),  # 1.5 + 5 = 6.5 -> 7; 0.3 + 0.25 -> 1
    (["unknown", "bird"], 15, 1),  # unknown sizes use the mammal row
]


@pytest.mark.parametrize("classes,spot,on_demand", SEED_CASES)
def test_seed_node_counts(classes, spot, on_demand):
    assert seed_node_counts(classes) == (spot, on_demand)


def test_sums_are_exact_not_floating_point():
    # 10 x 0.1 in floats is 1.0000000000000002, which would round up to 2
    assert seed_node_counts(["nematode"] * 10)[1] == 1
    assert seed_node_counts(["nematode"] * 100) == (50, 10)


@pytest.mark.parametrize("size,count,spot,on_demand", [
    (MAMMAL, 4, 40, 2), (MAMMAL, 3, 30, 2), (BIRD, 4, 20, 1), (BIRD, 6, 30, 2),
    (NEMATODE, 10, 5, 1), (NEMATODE, 7, 4, 1), (SMALL, 4, 2, 1),
])
def test_plans_match_the_seed_table_for_each_class(size, count, spot, on_demand):
    plan = plan_for([size] * count)
    assert plan["node_types"] == ["c4.8xlarge:1.591", "r3.8xlarge"]
    assert plan["max_nodes"] == [spot, on_demand]
    assert plan["min_nodes"] == [0, 0]
    assert {g["size_class"] for g in plan["genomes"]} == {size_class(size)}


def test_mixed_plan_adds_shares_and_rounds_up():
    plan = plan_for([MAMMAL, BIRD, NEMATODE, SMALL])
    # 10 + 5 + 0.5 + 0.5 = 16; 0.5 + 0.25 + 0.1 + 0.1 = 0.95 -> 1
    assert plan["max_nodes"] == [16, 1]
    assert plan["size_classes"] == {"small": 1, "nematode": 1, "bird": 1, "mammal": 1}
    assert not plan["single_machine_recommended"]


@pytest.mark.parametrize("classes,expected", [
    (["small"] * 5, True), (["small", "nematode"], False), (["small", "unknown"], False), ([], False),
])
def test_single_machine_recommendation(classes, expected):
    assert single_machine_recommended(classes) is expected


def test_all_small_plan_recommends_a_single_machine_and_still_sizes_a_cluster():
    plan = plan_for([SMALL] * 6)
    assert plan["single_machine_recommended"] is True
    assert "single machine" in plan["summary"]
    assert plan["max_nodes"] == [3, 1]  # the nematode row


def test_the_recommendation_names_the_host_mode_concretely():
    [line] = [line for line in plan_for([SMALL] * 6)["summary"].splitlines() if "100 Mb" in line]
    assert "-e cactus_target_hosts=<host>" in line
    assert "README: Small genomes and existing machines" in line
    assert "the cluster numbers use the nematode row" in line
    assert "cactus_target_hosts" not in plan_for([SMALL, NEMATODE])["summary"]


def test_unknown_sizes_are_sized_as_mammals_with_a_warning():
    plan = plan_for([None, None])
    assert plan["max_nodes"] == [20, 1]
    assert any("size unknown for 2 genome(s)" in w for w in plan["warnings"])


# ---- Overrides and node types ---------------------------------------------------------------------

def test_explicit_node_types_get_spot_or_on_demand_maxima_by_their_bid():
    plan = plan_for([MAMMAL] * 4, node_types=["r5.8xlarge", "c5.4xlarge/c5a.4xlarge:0.42", "t2.large"])
    assert plan["max_nodes"] == [2, 40, 2]


def test_node_types_as_a_comma_string_and_overrides():
    plan = plan_for([BIRD] * 2, node_types="c5.4xlarge:0.5, r5.8xlarge", min_nodes="1,0", max_nodes=[9, 3])
    assert plan["node_types"] == ["c5.4xlarge:0.5", "r5.8xlarge"]
    assert (plan["min_nodes"], plan["max_nodes"]) == ([1, 0], [9, 3])


def test_empty_lists_mean_the_defaults():
    plan = plan_for([BIRD] * 4, node_types=[], min_nodes=[], max_nodes="")
    assert (plan["node_types"], plan["min_nodes"], plan["max_nodes"]) == (
        ["c4.8xlarge:1.591", "r3.8xlarge"], [0, 0], [20, 1])
    # no warning about the defaults' age: pre-flight checks that the zone offers them (toil_preflight)
    assert not any("previous-generation" in w for w in plan["warnings"])


def test_spot_bid_parameter_sets_the_default_bid():
    assert plan_for([BIRD, BIRD], spot_bid=1.25)["node_types"] == ["c4.8xlarge:1.25", "r3.8xlarge"]


@pytest.mark.parametrize("overrides,variable,fragment", [
    (dict(max_nodes=[1]), "toil_max_nodes", "1 values for 2 node types"),
    (dict(min_nodes=[0, 0, 0]), "toil_min_nodes", "3 values for 2 node types"),
    (dict(min_nodes=[3, 0], max_nodes=[2, 1]), "toil_min_nodes", "above the maximum"),
    (dict(max_nodes=[0, 0]), "toil_max_nodes", "every maximum is 0"),
    (dict(max_nodes=[-1, 2]), "toil_max_nodes", "negative"),
    (dict(max_nodes="a,b"), "toil_max_nodes", "not a list of whole numbers"),
    (dict(node_types=["c4.8xlarge:0.6:1"]), "toil_node_types", "multiple bids"),
    (dict(node_types=["/c4.8xlarge"]), "toil_node_types", "empty instance type"),
    (dict(node_types=["c4.8xlarge:cheap"]), "toil_node_types", "could not convert"),
    (dict(node_types=["c4.8xlarge:-1"]), "toil_node_types", "positive"),
    (dict(node_types=["c4.8xlarge:nan"]), "toil_node_types", "positive"),
    (dict(node_types=["c4.8xlarge,r3.8xlarge", "t2.large"]), "toil_node_types", "more than one"),
    (dict(node_types="c4.8xlarge,,r3.8xlarge"), "toil_node_types", "empty node type"),
    (dict(node_types=["c4.8xlage:0.6"]), "toil_node_types", "did you mean c4.8xlarge"),
    (dict(leader_node_type="t2.micro"), "toil_leader_node_type", "needs 2 or more"),
    (dict(leader_node_type="m5.lrge"), "toil_leader_node_type", "not offered"),
    (dict(cluster_type="mesos", node_types=["m6g.large"]), "toil_node_types", "amd64 only"),
    (dict(zone="ap-south-2a"), "toil_zone", "not in Toil 9.4.1's instance table"),
    (dict(zone="us-west-2"), "toil_zone", "is a region, but an availability zone is required"),
    (dict(spot_bid=-1), "toil_spot_bid", "positive"),
    (dict(cluster_type="slurm"), "toil_cluster_type", "not a cluster type"),
    (dict(key_pair_name=""), "toil_key_pair_name", "no EC2 key pair"),
    (dict(node_storage=0), "toil_node_storage", "GB >= 1"),
    (dict(cons_cores=0), "cactus_cons_cores", ">= 1"),
    (dict(cons_cores=64), "cactus_cons_cores", "more than any worker has"),
    (dict(output="gs://bucket/out.hal"), "cactus_output", "not an s3://bucket/key URL"),
    (dict(output="s3://bucket/"), "cactus_output", "not an s3://bucket/key URL"),
    (dict(existing_clusters=["cactus"]), "toil_cluster_name", "hyphen-prefixes"),
    (dict(existing_clusters=["cactus-test-2"]), "toil_cluster_name", "hyphen-prefixes"),
    (dict(run_tag_value="a=b"), "toil_run_tag", "splits the tag on '='"),
    (dict(extra_options=["--nodeTypes", "t2.large"]), "cactus_extra_options", "set toil_node_types"),
    (dict(extra_options=["--nodeType", "t2.large"]), "cactus_extra_options", "set toil_node_types"),
    (dict(extra_options="--batchSystem=slurm"), "cactus_extra_options", "set toil_cluster_type"),
    (dict(extra_options=["-p", "aws"]), "cactus_extra_options", "set toil_cluster_type"),
    (dict(extra_options=["--consCores", "8"]), "cactus_extra_options", "set cactus_cons_cores"),
    (dict(extra_options=["--restart"]), "cactus_extra_options", "cactus_restart_argv"),
    (dict(extra_options=["--metrics", "aws:us-west-2:js"]), "cactus_extra_options", "takes a boolean"),
    (dict(extra_options=["--maxCores", "8"]), "cactus_cons_cores", "above --maxCores 8"),
])
def test_bad_inputs_name_the_variable_and_the_fix(overrides, variable, fragment):
    with pytest.raises(PlanError) as caught:
        plan_for([MAMMAL] * 2, **overrides)
    assert caught.value.variable == variable
    assert fragment in caught.value.problem + caught.value.fix, str(caught.value)
    assert str(caught.value).startswith(f"{variable}: ") and "Fix: " in str(caught.value)


def test_node_counts_direct():
    parsed = [parse_node_type("c4.8xlarge:0.6"), parse_node_type("r3.8xlarge")]
    assert node_counts(parsed, ["mammal"] * 4) == ([0, 0], [40, 2])
    assert node_counts(parsed, ["mammal"], min_override=[1, 1], max_override=[5, 5]) == ([1, 1], [5, 5])


@pytest.mark.parametrize("cluster_type,node_types,expected", [
    ("mesos", None, 32),  # c4.8xlarge 36, r3.8xlarge 32
    ("kubernetes", None, 31),  # one core kept for the system pods
    ("mesos", ["c5.4xlarge/c5a.4xlarge:0.42", "r5.8xlarge"], 16),
    ("kubernetes", ["t2.xlarge"], 3),
])
def test_default_cons_cores(cluster_type, node_types, expected):
    plan = plan_for([MAMMAL, MAMMAL], cluster_type=cluster_type, node_types=node_types)
    assert plan["cons_cores"] == expected


def test_cons_cores_override_above_the_smallest_worker_warns():
    plan = plan_for([MAMMAL, MAMMAL], cons_cores=34)
    assert plan["cons_cores"] == 34
    assert any("does not fit the smallest worker" in w for w in plan["warnings"])


def test_storage_defaults_follow_the_largest_class_and_local_genomes():
    assert plan_for([SMALL, SMALL])["node_storage"] == 100
    assert plan_for([NEMATODE, SMALL])["node_storage"] == 200
    assert plan_for([BIRD, NEMATODE])["node_storage"] == 500
    assert plan_for([MAMMAL, BIRD])["node_storage"] == 1000
    assert plan_for([None, None])["node_storage"] == 1000
    seqfile = caterpillar_seqfile(2)
    measured = {"g0": {"size": 3 * GB, "size_on_disk": GB}, "g1": {"size": 3 * GB, "size_on_disk": GB}}
    settings = PlanSettings(cluster_name="cactus-test", zone=ZONE, key_pair_name="k", output="s3://b/o.hal")
    assert build_plan(seqfile, measured, settings)["leader_storage"] == 52  # 50 + 2 GB staged
    settings.leader_storage = 20
    assert any("may be too small" in w for w in build_plan(seqfile, measured, settings)["warnings"])


# ---- Names ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,ok", [
    ("cactus", True), ("cactus-run-1", True), ("a", True), ("a1-b2", True),
    ("a" * CLUSTER_NAME_MAX, True), ("a" * (CLUSTER_NAME_MAX + 1), False),
    ("Cactus", False), ("cactus_run", False), ("cactus--run", False), ("cactus-", False),
    ("-cactus", False), ("1cactus", False), ("cactus.run", False), ("", False), ("sg-cactus", False),
])
def test_cluster_names(name, ok):
    if ok:
        assert check_cluster_name(name) == name
    else:
        with pytest.raises(PlanError, match="toil_cluster_name"):
            check_cluster_name(name)


def test_cluster_name_limit_is_the_iam_role_limit():
    name = "a-" * 29 + "b"  # 59 characters
    assert len(name) == CLUSTER_NAME_MAX == 59
    assert len(toil_role_name(name)) == 64


@pytest.mark.parametrize("name,ok", [
    ("abc", True), ("my-job-store-1", True), ("a" * 56, True), ("0ab", True),
    ("ab", False), ("a" * 57, False), ("-abc", False), ("abc-", False), ("a--b", False),
    ("ABC", False), ("a_b", False), ("a.b", False), ("us-west-2:abc", False),
])
def test_jobstore_names_checked_by_toil(name, ok):
    if ok:
        assert check_jobstore_name(name, "us-west-2") == f"aws:us-west-2:{name}"
    else:
        with pytest.raises(PlanError, match="toil_jobstore_name"):
            check_jobstore_name(name, "us-west-2")


def test_jobstore_region_must_be_known_to_toil():
    with pytest.raises(PlanError, match="is not one of"):
        check_jobstore_name("abc", "eu-north-1")


@pytest.mark.parametrize("a,b,conflict", [
    ("cactus", "cactus-run", True),
    ("cactus-run", "cactus", True),
    ("cactus", "cactus-run-2", True),
    ("cactus-run", "cactus-run-2", True),
    ("cactus", "cactus2", False),
    ("cactus", "cactusrun", False),
    ("cactus-run", "cactus-ru", False),
    ("cactus-run", "cactus-runner", False),
    ("a-b", "a-c", False),
    ("cactus", "cactus", False),
    ("run-cactus", "cactus", False),
])
def test_names_conflict(a, b, conflict):
    assert names_conflict(a, b) is conflict


def test_names_conflict_matches_toils_own_destroy_rule(monkeypatch):
    # Importing the provisioner probes EC2 metadata (Toil's zone, botocore's region) unless told.
    monkeypatch.setenv("TOIL_AWS_ZONE", ZONE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region_of(ZONE))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from toil.provisioners.aws.awsProvisioner import AWSProvisioner

    def toil_cluster(name):
        stub = types.SimpleNamespace(clusterName=name)
        stub._toNameSpace = types.MethodType(AWSProvisioner._toNameSpace, stub)
        return stub

    names = ["cactus", "cactus-run", "cactus-run-2", "cactus2", "cactusrun", "a-b", "a-b-c", "b"]
    for a, b in itertools.product(names, repeat=2):
        role_b = AWSProvisioner._namespace_name(toil_cluster(b), "toil")
        assert toil_role_name(b) == role_b
        toil_says = AWSProvisioner._is_our_namespaced_name(toil_cluster(a), role_b)
        assert toil_claims(a, role_b) == toil_says, (a, b)
        if a != b:
            toil_reverse = AWSProvisioner._is_our_namespaced_name(
                toil_cluster(b), AWSProvisioner._namespace_name(toil_cluster(a), "toil"))
            assert names_conflict(a, b) == (toil_says or toil_reverse), (a, b)


@pytest.mark.parametrize("key,value,ok", [
    ("cactus-run", "my-run", True), ("cactus-run", "", True), ("k", "a b:c/d@e+f.g_h", True),
    ("", "v", False), ("a=b", "v", False), ("aws:x", "v", False), ("k", "a=b", False),
    ("k", "x" * 257, False), ("k", "bad!", False),
])
def test_run_tags(key, value, ok):
    if ok:
        check_run_tag(key, value)
    else:
        with pytest.raises(PlanError, match="toil_run_tag"):
            check_run_tag(key, value)


@pytest.mark.parametrize("zone,region", [("us-west-2a", "us-west-2"), ("eu-central-1b", "eu-central-1")])
def test_region_of(zone, region):
    assert region_of(zone) == region


@pytest.mark.parametrize("output,kind", [
    ("s3://bucket/out.hal", "s3"), ("s3://b/dir/out.hal", "s3"), ("/home/u/out.hal", "local"),
    ("runs/out.hal", "local"),
])
def test_output_kind(output, kind):
    assert output_kind(output) == kind


# ---- Cost ceiling ---------------------------------------------------------------------------------

def test_cost_ceiling_with_every_price_known():
    cost = cost_ceiling(["c4.8xlarge:0.6", "r3.8xlarge"], [40, 2], "m5.large",
                        {"r3.8xlarge": 2.66, "m5.large": 0.096})
    assert [line["subtotal"] for line in cost["lines"]] == [24.0, 5.32, 0.096]
    assert cost["total"] == cost["known_total"] == pytest.approx(29.416)
    assert cost["unknown"] == [] and cost["unit"] == "USD/hour"


def test_cost_ceiling_with_a_missing_price_shows_the_known_part():
    cost = cost_ceiling(["c4.8xlarge:0.6", "r3.8xlarge"], [40, 2], "m5.large", {"m5.large": 0.1})
    assert cost["total"] is None
    assert cost["known_total"] == pytest.approx(24.1)
    assert cost["unknown"] == ["r3.8xlarge (on demand)"]
    assert cost["lines"][1]["unit_price"] is None and cost["lines"][1]["count"] == 2


def test_cost_of_interchangeable_on_demand_types_is_the_dearest():
    cost = cost_ceiling(["m5.large/m5a.large"], [10], "m5.large", {"m5.large": 0.096, "m5a.large": 0.086})
    assert cost["lines"][0]["subtotal"] == pytest.approx(0.96)
    assert cost["total"] == pytest.approx(1.056)


def test_plan_summary_shows_the_cost():
    plan = plan_for([MAMMAL] * 4, spot_bid=0.6, on_demand_prices={"r3.8xlarge": 2.66, "m5.large": 0.096})
    assert plan["cost_per_hour"]["total"] == pytest.approx(29.416)
    assert "$29.42/hour" in plan["summary"]
    assert "known + unknown prices" in plan_for([MAMMAL, MAMMAL])["summary"]


# ---- Plan shape -----------------------------------------------------------------------------------

AWS_PLAN_KEYS = {
    "mode", "cluster_name", "cluster_type", "zone", "region", "jobstore", "jobstore_name", "run_tag",
    "cactus_version", "seqfile", "tree", "leaves", "outgroups", "genomes", "size_classes",
    "single_machine_recommended", "node_types", "min_nodes", "max_nodes", "node_storage",
    "leader_node_type", "leader_storage", "cons_cores", "output", "output_kind", "leader_run_dir",
    "leader_seqfile", "leader_seqfile_text", "leader_output", "log_file", "launch_cluster_argv",
    "launch_cluster_environment", "cactus_argv", "cactus_restart_argv", "cost_per_hour", "warnings",
    "summary", "governed", "cactus_environment", "workflow", "workflow_why", "gpu",
}


def test_aws_plan_keys_are_unchanged_but_for_its_mode():
    plan = plan_for([MAMMAL, BIRD])
    assert set(plan) == AWS_PLAN_KEYS
    assert plan["mode"] == "aws"


@pytest.mark.parametrize("missing,variable", [
    ("cluster_name", "toil_cluster_name"), ("zone", "toil_zone"), ("key_pair_name", "toil_key_pair_name"),
])
def test_aws_plan_still_needs_cluster_zone_and_key_pair(missing, variable):
    settings = dict(cluster_name="cactus-test", zone=ZONE, key_pair_name="my-key", output="s3://b/o.hal")
    del settings[missing]
    with pytest.raises(PlanError) as caught:
        build_plan(caterpillar_seqfile(2), {}, PlanSettings(**settings))
    assert caught.value.variable == variable
    assert "cactus_target_hosts" in caught.value.fix
    for empty in ("", None):
        with pytest.raises(PlanError, match=variable):
            build_plan(caterpillar_seqfile(2), {}, PlanSettings(**settings, **{missing: empty}))
        with pytest.raises(PlanError, match=variable):  # an empty target_host is an AWS plan too
            build_plan(caterpillar_seqfile(2), {}, PlanSettings(**settings, target_host=""))


def test_plan_has_the_documented_keys():
    plan = plan_for([MAMMAL, BIRD])
    for key in ("launch_cluster_argv", "cactus_argv", "node_types", "min_nodes", "max_nodes", "jobstore",
                "genomes", "cost_per_hour", "single_machine_recommended", "cluster_type", "summary"):
        assert key in plan
    assert plan["launch_cluster_argv"][:2] == ["toil", "launch-cluster"]
    assert plan["cactus_argv"][:2] == ["cactus", "aws:us-west-2:cactus-test-jobstore"]
    assert plan["jobstore"] == "aws:us-west-2:cactus-test-jobstore"
    assert plan["launch_cluster_environment"] == {"TOIL_AWS_ZONE": ZONE}
    genome = plan["genomes"][0]
    assert {"name", "path", "size", "size_class"} <= set(genome)
    assert genome["leader_path"] == "/var/lib/toil/cactus/cactus-test-jobstore/genomes/g0/g0.fa"
    assert plan["leader_seqfile_text"].splitlines()[1] == f"g0\t{genome['leader_path']}"
    assert 3 <= len(plan["summary"].splitlines()) <= 6
    assert all(isinstance(item, str) for item in plan["cactus_argv"] + plan["launch_cluster_argv"])


def test_leader_seqfile_keeps_urls_and_outgroups():
    text = "((a,b),c);\n*a a.fa\nb https://h/b.fa\nc s3://bkt/c.fa\nunused u.fa\n"
    seqfile = parse_seqfile_text(text, "/d/seq.txt")
    settings = PlanSettings(cluster_name="cx", zone=ZONE, key_pair_name="k", output="/tmp/o.hal",
                            leader_run_dir="/opt/run", workflow="progressive")
    plan = build_plan(seqfile, {"a": {"size": MAMMAL}}, settings)
    assert plan["leader_seqfile_text"] == (
        "((a,b),c);\n*a\t/opt/run/genomes/a/a.fa\nb\thttps://h/b.fa\nc\ts3://bkt/c.fa\n")
    assert plan["outgroups"] == ["a"]
    assert plan["leader_output"] == "/opt/run/o.hal" and plan["cactus_argv"][3] == "/opt/run/o.hal"


def test_ancestors_with_genome_lines_are_sized_placed_and_written():
    text = "((a,b)x,c);\na a.fa\nb b.fa\nc c.fa\nx anc/x.fa\n"
    seqfile = parse_seqfile_text(text, "/d/seq.txt")
    settings = PlanSettings(cluster_name="cx", zone=ZONE, key_pair_name="k", output="/tmp/o.hal",
                            leader_run_dir="/opt/run")
    plan = build_plan(seqfile, {name: {"size": SMALL} for name in "abcx"}, settings)
    assert [g["name"] for g in plan["genomes"]] == ["a", "b", "c", "x"]
    assert plan["genomes"][3]["leader_path"] == "/opt/run/genomes/x/x.fa"
    assert plan["leader_seqfile_text"].splitlines()[-1] == "x\t/opt/run/genomes/x/x.fa"
    assert plan["size_classes"] == {"small": 4}


def test_seed_guides_metrics_bug_is_never_emitted():
    for cluster_type in ("kubernetes", "mesos"):
        argv = plan_for([MAMMAL, MAMMAL], cluster_type=cluster_type)["cactus_argv"]
        assert "--metrics" not in argv
        assert argv[1].startswith("aws:")


# ---- Every command line the project can emit, checked by Toil -------------------------------------

def cactus_v321_parser():
    """Cactus v3.2.1's parser: the stand-in's (Toil's workflow parser plus Cactus's options), which
    test_cactus_options checks against the project's data of Cactus's options."""
    from test_cactus_options import standin_parser

    return standin_parser()


def check_cactus_argv_with_toil(argv):
    """Parse like cactus_progressive.main, load into Toil's Config, apply Cactus's core checks."""
    from toil.common import Config
    from toil.provisioners import parse_node_types

    assert argv[0] == "cactus"
    options = cactus_v321_parser().parse_args(argv[1:])
    Config().setOptions(options)
    # cactus_progressive.main: off single_machine, --consCores is required and <= --maxCores
    assert options.batchSystem not in ("single_machine", "singleMachine")
    assert options.consCores, "--consCores required for non single_machine batch systems"
    if options.maxCores is not None and options.maxCores < 2**20:
        assert options.consCores <= options.maxCores
    if "--nodeTypes" in argv:
        assert options.nodeTypes == parse_node_types(argv[argv.index("--nodeTypes") + 1])
    return options


class RecordingCluster:
    """Stands in for AWSProvisioner: records what launch-cluster asks of the cloud."""

    def __init__(self, **factory_kwargs):
        self.factory_kwargs = factory_kwargs
        self.calls = []

    def launchCluster(self, **kwargs):  # noqa: N802 - Toil's method name
        self.calls.append(("launchCluster", kwargs))

    def addManagedNodes(self, **kwargs):  # noqa: N802
        self.calls.append(("addManagedNodes", kwargs))

    def addNodes(self, **kwargs):  # noqa: N802
        self.calls.append(("addNodes", kwargs))


def run_toil_launch_cluster(argv, monkeypatch):
    """Run Toil's real launch-cluster main() on argv; the cloud is a recorder, nothing is launched."""
    from toil.utils import toilLaunchCluster

    assert argv[:2] == ["toil", "launch-cluster"]
    made, seen = [], {}

    def factory(**kwargs):
        made.append(RecordingCluster(**kwargs))
        return made[-1]

    monkeypatch.setattr(toilLaunchCluster, "cluster_factory", factory)
    # The appliance image check asks quay.io; everything else (node type checks included) is real.
    monkeypatch.setattr(toilLaunchCluster, "applianceSelf", lambda **_: "quay.io/ucsc_cgl/toil:9.4.1")
    monkeypatch.setattr(toilLaunchCluster, "set_logging_from_options", lambda options: seen.update(o=options))
    for name, value in {"TOIL_AWS_ZONE": ZONE}.items():  # the plan's launch_cluster_environment
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TOIL_OWNER_TAG", raising=False)
    monkeypatch.setattr(sys, "argv", ["toil launch-cluster", *argv[2:]])
    toilLaunchCluster.main()
    return seen["o"], made[0]


CLUSTER_TYPES = ["kubernetes", "mesos"]
NODE_TYPE_CHOICES = {
    "default": None,
    "interchangeable-spot+on-demand": ["c5.4xlarge/c5a.4xlarge:0.42", "t2.large"],
    "on-demand-only": ["r5.8xlarge"],
    "spot-only": ["r5.8xlarge:1.5"],
}
OVERRIDES = ["seed", "explicit"]
EXTRAS = {
    "none": [],
    "some": ["--root", "g0", "--defaultDisk", "8G", "--maxCores", "64", "--maskMode", "none",
             "--metrics", "false", "--targetTime", "1", "--consMemory", "100Gi"],
}
OUTPUTS = {"s3": "s3://bucket/run/out.hal", "local": "/home/user/out.hal"}
COMBINATIONS = list(itertools.product(CLUSTER_TYPES, NODE_TYPE_CHOICES, OVERRIDES, EXTRAS, OUTPUTS))


def combination_plan(cluster_type, node_choice, override, extra, output):
    node_types = NODE_TYPE_CHOICES[node_choice]
    settings = dict(cluster_type=cluster_type, node_types=node_types, extra_options=EXTRAS[extra],
                    output=OUTPUTS[output], on_demand_prices={"t2.large": 0.09})
    if override == "explicit":
        count = len(node_types or [1, 2])
        settings.update(min_nodes=[1] * count, max_nodes=[7] * count, node_storage=300, cons_cores=2,
                        leader_storage=250)
    return plan_for([MAMMAL, BIRD, NEMATODE], **settings)


@pytest.mark.parametrize("cluster_type,node_choice,override,extra,output", COMBINATIONS,
                         ids=["-".join(c) for c in COMBINATIONS])
def test_cactus_argv_passes_toils_parser(cluster_type, node_choice, override, extra, output):
    plan = combination_plan(cluster_type, node_choice, override, extra, output)
    options = check_cactus_argv_with_toil(plan["cactus_argv"])
    parsed_types = [parse_node_type(t) for t in plan["node_types"]]
    assert options.jobStore == plan["jobstore"]
    assert options.seqFile == plan["leader_seqfile"]
    assert options.outputHal == (OUTPUTS[output] if output == "s3" else plan["leader_output"])
    assert options.batchSystem == cluster_type
    assert options.consCores == plan["cons_cores"]
    assert options.retryCount == 5
    assert options.logFile == plan["log_file"]
    assert options.metrics is False
    assert options.defaultPreemptible is any(bid is not None for _, bid in parsed_types)
    if cluster_type == "kubernetes":
        assert options.provisioner is None and options.nodeTypes == []
        assert options.binariesMode == "singularity"
    else:
        assert options.provisioner == "aws" and options.binariesMode == "docker"
        assert [(sorted(s), bid) for s, bid in options.nodeTypes] == parsed_types
        assert options.minNodes == plan["min_nodes"] and options.maxNodes == plan["max_nodes"]
        assert options.nodeStorage == plan["node_storage"]
    if extra == "some":
        assert options.root == "g0" and options.maxCores == 64 and options.maskMode == "none"


@pytest.mark.parametrize("cluster_type,node_choice,override,output",
                         list(itertools.product(CLUSTER_TYPES, NODE_TYPE_CHOICES, OVERRIDES, OUTPUTS)))
def test_launch_cluster_argv_passes_toils_launch_cluster(cluster_type, node_choice, override, output,
                                                         monkeypatch):
    plan = combination_plan(cluster_type, node_choice, override, "none", output)
    options, cluster = run_toil_launch_cluster(plan["launch_cluster_argv"], monkeypatch)
    assert options.clusterName == "cactus-test" and options.provisioner == "aws"
    assert options.zone == ZONE and options.keyPairName == "my-key" and options.owner == "my-key"
    assert options.leaderNodeType == plan["leader_node_type"]
    assert options.leaderStorage == plan["leader_storage"]
    assert options.clusterType == cluster_type
    assert cluster.factory_kwargs["clusterName"] == "cactus-test"
    assert cluster.factory_kwargs["clusterType"] == cluster_type
    assert cluster.factory_kwargs["zone"] == ZONE
    (launch_name, launch), *node_calls = cluster.calls
    assert launch_name == "launchCluster"
    assert launch["userTags"] == {"cactus-run": "cactus-test-jobstore"}
    assert launch["leaderNodeType"] == plan["leader_node_type"] and launch["keyName"] == "my-key"
    if cluster_type == "mesos":
        assert options.nodeTypes is None and options.workers is None and node_calls == []
        return
    assert cluster.factory_kwargs["nodeStorage"] == plan["node_storage"]
    expected = []
    for spec, low, high in zip(plan["node_types"], plan["min_nodes"], plan["max_nodes"], strict=True):
        instance_types, bid = parse_node_type(spec)
        call = dict(nodeTypes=set(instance_types), minNodes=low, maxNodes=high, preemptible=bid is not None)
        if bid is not None:
            call["spotBid"] = bid
        if high:
            expected.append(("addManagedNodes", call))
    assert node_calls == expected


def test_restart_argv_passes_toils_parser():
    plan = plan_for([MAMMAL, BIRD], cluster_type="mesos")
    assert plan["cactus_restart_argv"] == plan["cactus_argv"] + ["--restart"]
    assert check_cactus_argv_with_toil(plan["cactus_restart_argv"]).restart is True


def test_the_checker_rejects_the_seed_guides_command():
    seed = ["cactus", "--nodeTypes", "c4.8xlarge:0.6,r3.8xlarge", "--minNodes", "0,0", "--maxNodes", "20,2",
            "--provisioner", "aws", "--batchSystem", "mesos", "--metrics", "aws:us-west-2:js",
            "seqFile.txt", "output.hal"]
    with pytest.raises(SystemExit):
        check_cactus_argv_with_toil(seed)


def test_the_checker_rejects_a_missing_cons_cores():
    argv = plan_for([MAMMAL, MAMMAL])["cactus_argv"]
    index = argv.index("--consCores")
    with pytest.raises(AssertionError, match="consCores required"):
        check_cactus_argv_with_toil(argv[:index] + argv[index + 2:])


def test_launch_cluster_checker_bites_on_mismatched_workers(monkeypatch):
    argv = plan_for([MAMMAL, MAMMAL])["launch_cluster_argv"]
    argv[argv.index("--workers") + 1] = "0-4"
    with pytest.raises(RuntimeError, match="same length"):
        run_toil_launch_cluster(argv, monkeypatch)


def test_launch_cluster_checker_uses_toils_instance_type_check(monkeypatch):
    argv = plan_for([MAMMAL, MAMMAL])["launch_cluster_argv"]
    argv[argv.index("--leaderNodeType") + 1] = "m5.lrge"
    with pytest.raises(RuntimeError, match="Invalid instance type"):
        run_toil_launch_cluster(argv, monkeypatch)


def test_every_combination_is_covered():
    assert len(COMBINATIONS) == 2 * 4 * 2 * 2 * 2
    assert math.prod(len(x) for x in (CLUSTER_TYPES, NODE_TYPE_CHOICES, OVERRIDES, EXTRAS, OUTPUTS)) == 64


# ---- Host plans: one machine of the inventory, no AWS ---------------------------------------------

HOST = "bigserver"
HOST_RUN_DIR = "/home/alice/cactus/runs/myrun"
HOST_PLAN_KEYS = {
    "mode", "target_host", "batch_system", "max_cores", "max_memory", "cons_cores", "slurm", "jobstore",
    "jobstore_name", "cactus_version", "seqfile", "tree", "leaves", "outgroups", "genomes", "size_classes",
    "single_machine_recommended", "output", "output_kind", "leader_run_dir", "leader_seqfile",
    "leader_seqfile_text", "leader_output", "log_file", "cactus_argv", "cactus_restart_argv", "warnings",
    "summary", "gpu",
}
HOST_BATCH_SYSTEMS = ["single_machine", "slurm", "lsf", "grid_engine", "torque", "htcondor"]


def host_plan_for(sizes, **overrides):
    """A host plan for genomes of the given sizes (bytes, or None for unknown)."""
    seqfile = caterpillar_seqfile(len(sizes))
    measurements = {f"g{i}": {"size": size} for i, size in enumerate(sizes)}
    settings = dict(target_host=HOST, output="runs/myrun/out.hal", leader_run_dir=HOST_RUN_DIR)
    settings.update(overrides)
    return build_plan(seqfile, measurements, PlanSettings(**settings))


def check_host_cactus_argv_with_toil(argv):
    """A host run's cactus command: parsed by Toil's parser plus Cactus's options, loaded with
    Config().setOptions, then cactus_progressive.main's --consCores/--maxCores rules for every batch
    system (single_machine included). Toil's --maxCores default is SYS_MAX_SIZE, never None, so Cactus
    copies it into a missing --consCores: off single_machine that asks the cluster for 2**63 cores."""
    from toil.common import Config

    assert argv[0] == "cactus"
    options = cactus_v321_parser().parse_args(argv[1:])
    Config().setOptions(options)
    assert options.provisioner is None and options.nodeTypes == []
    assert options.jobStore.startswith("file:/"), "a host run uses Toil's file job store"
    cons_cores = options.consCores if options.consCores is not None else int(options.maxCores)
    if options.batchSystem.lower() not in ("single_machine", "singlemachine"):
        assert cons_cores, "--consCores required for non single_machine batch systems"
        assert cons_cores < 2**20, "--consCores would be Toil's unlimited --maxCores default"
    assert options.maxCores >= 1 and cons_cores <= options.maxCores, "--consCores must be <= --maxCores"
    return options


def test_host_plan_on_a_single_machine():
    plan = host_plan_for([SMALL, SMALL, SMALL])
    assert set(plan) == HOST_PLAN_KEYS
    assert not {"region", "cost_per_hour", "launch_cluster_argv", "launch_cluster_environment", "zone",
                "cluster_name", "node_types", "max_nodes"} & set(plan)
    assert plan["mode"] == "host" and plan["target_host"] == HOST
    assert plan["batch_system"] == "single_machine"
    assert (plan["max_cores"], plan["max_memory"], plan["cons_cores"]) == (None, None, None)
    assert plan["jobstore"] == f"{HOST_RUN_DIR}/jobstore" and plan["jobstore_name"] == "myrun"
    assert plan["leader_run_dir"] == HOST_RUN_DIR
    assert plan["leader_seqfile"] == f"{HOST_RUN_DIR}/seqfile.txt"
    assert plan["leader_output"] == f"{HOST_RUN_DIR}/out.hal"
    assert plan["log_file"] == f"{HOST_RUN_DIR}/cactus.log"
    assert plan["output"] == "runs/myrun/out.hal" and plan["output_kind"] == "local"
    assert plan["genomes"][1]["leader_path"] == f"{HOST_RUN_DIR}/genomes/g1/g1.fa"
    assert plan["leader_seqfile_text"].splitlines()[1] == f"g0\t{HOST_RUN_DIR}/genomes/g0/g0.fa"
    assert plan["single_machine_recommended"] is True and plan["size_classes"] == {"small": 3}
    assert plan["cactus_argv"] == ["cactus", f"{HOST_RUN_DIR}/jobstore", f"{HOST_RUN_DIR}/seqfile.txt",
                                   f"{HOST_RUN_DIR}/out.hal", "--batchSystem", "single_machine",
                                   "--logFile", f"{HOST_RUN_DIR}/cactus.log"]
    assert plan["cactus_restart_argv"] == plan["cactus_argv"] + ["--restart"]
    assert plan["warnings"] == []
    options = check_host_cactus_argv_with_toil(plan["cactus_argv"])
    assert options.jobStore == "file:" + plan["jobstore"]
    assert options.seqFile == plan["leader_seqfile"] and options.outputHal == plan["leader_output"]
    assert options.batchSystem == "single_machine" and options.logFile == plan["log_file"]
    assert options.consCores is None  # Cactus takes --maxCores (or the host's cores) itself
    assert options.retryCount == 1  # Toil's default, which Cactus keeps on a single machine
    assert check_host_cactus_argv_with_toil(plan["cactus_restart_argv"]).restart is True
    assert plan["summary"].splitlines() == [
        "3 genomes (3 small) from /data/seq.txt",
        f"host {HOST}: --batchSystem single_machine, maxCores all, maxMemory all",
        f"job store {HOST_RUN_DIR}/jobstore; output runs/myrun/out.hal (fetched from {HOST_RUN_DIR}/out.hal)",
    ]
    assert json.loads(json.dumps(plan)) == plan


def test_host_plan_with_limits_on_a_single_machine():
    plan = host_plan_for([SMALL, SMALL], max_cores=16, max_memory="64G", cons_cores=8)
    assert (plan["max_cores"], plan["max_memory"], plan["cons_cores"]) == (16, "64G", 8)
    assert plan["cactus_argv"][4:] == ["--batchSystem", "single_machine", "--maxCores", "16",
                                       "--maxMemory", "64G", "--consCores", "8",
                                       "--logFile", f"{HOST_RUN_DIR}/cactus.log"]
    options = check_host_cactus_argv_with_toil(plan["cactus_argv"])
    assert (options.maxCores, options.maxMemory, options.consCores) == (16, 64 * 10**9, 8)
    assert "maxCores 16, maxMemory 64G, consCores 8" in plan["summary"]


def test_host_plan_takes_the_hosts_own_limits_on_a_single_machine():
    plan = host_plan_for([SMALL, SMALL], host_cores=12, host_memory_mb=24105)
    assert (plan["max_cores"], plan["max_memory"]) == (12, "24105Mi")
    options = check_host_cactus_argv_with_toil(plan["cactus_argv"])
    assert (options.maxCores, options.maxMemory) == (12, 24105 * 2**20)
    # What the user gives wins over the host's facts.
    given = host_plan_for([SMALL, SMALL], host_cores=12, host_memory_mb=24105, max_cores=4, max_memory="8G")
    assert (given["max_cores"], given["max_memory"]) == (4, "8G")


def test_host_plan_ignores_a_login_nodes_size_on_a_cluster():
    plan = host_plan_for([SMALL, SMALL], batch_system="slurm", cons_cores=32,
                         host_cores=4, host_memory_mb=8000)
    assert (plan["max_cores"], plan["max_memory"]) == (None, None)
    assert "--maxCores" not in plan["cactus_argv"] and "--maxMemory" not in plan["cactus_argv"]


def test_host_plan_on_slurm_with_cons_cores():
    plan = host_plan_for([MAMMAL, BIRD], batch_system="slurm", cons_cores=32, max_memory="500Gi")
    assert plan["batch_system"] == "slurm" and plan["cons_cores"] == 32 and plan["max_cores"] is None
    comment = f"--comment=cactus-run:{HOST_RUN_DIR}"
    # No partition facts (no pre-flight): Slurm's default partition and time, Cactus's advice otherwise.
    assert plan["cactus_argv"][4:] == ["--batchSystem", "slurm", "--maxMemory", "500Gi", "--consCores", "32",
                                       "--retryCount", "5", "--logFile", f"{HOST_RUN_DIR}/cactus.log",
                                       "--batchLogsDir", f"{HOST_RUN_DIR}/batch-logs", "--doubleMem", "true",
                                       "--maxJobs", "1000", f"--slurmArgs={comment}"]
    options = check_host_cactus_argv_with_toil(plan["cactus_argv"])
    assert options.batchSystem == "slurm" and options.consCores == 32 and options.retryCount == 5
    assert options.maxMemory == 500 * 2**30
    assert options.doubleMem is True and options.max_jobs == 1000 and options.slurm_args == comment
    assert options.batch_logs_dir == f"{HOST_RUN_DIR}/batch-logs"
    assert options.slurm_partition is None and options.slurm_time is None
    assert plan["warnings"] == []  # the big-genome warning is for single_machine only
    assert f"host {HOST}: --batchSystem slurm, maxCores all, maxMemory 500Gi, consCores 32" in plan["summary"]


HOST_LIMITS = {
    "cons": dict(cons_cores=16),
    "max": dict(max_cores=24),
    "both": dict(max_cores=24, cons_cores=24),
    "all": dict(max_cores=8, max_memory=32 * 2**30, cons_cores=4, retry_count=2),
}


@pytest.mark.parametrize("batch_system", HOST_BATCH_SYSTEMS)
@pytest.mark.parametrize("limits", HOST_LIMITS.values(), ids=HOST_LIMITS)
def test_every_host_batch_system_passes_toils_parser(batch_system, limits):
    plan = host_plan_for([BIRD, NEMATODE], batch_system=batch_system,
                         extra_options=["--binariesMode", "local", "--root", "g0"], **limits)
    for argv in (plan["cactus_argv"], plan["cactus_restart_argv"]):
        options = check_host_cactus_argv_with_toil(argv)
        assert options.batchSystem == batch_system and options.binariesMode == "local"
        assert options.consCores == limits.get("cons_cores")
        if "max_cores" in limits:
            assert options.maxCores == limits["max_cores"]
        if "max_memory" in limits:
            assert options.maxMemory == limits["max_memory"]
            assert plan["max_memory"] == str(limits["max_memory"])
        expected_retries = 1 if batch_system == "single_machine" else limits.get("retry_count", 5)
        assert options.retryCount == expected_retries
        assert ("--retryCount" in argv) is (batch_system != "single_machine")


def test_host_batch_systems_are_toils_registry():
    from toil.batchSystems.registry import get_batch_systems

    assert sorted(HOST_BATCH_SYSTEMS + list(CLUSTER_BATCH_SYSTEMS)) == sorted(get_batch_systems())


def test_slurm_needs_cons_cores_or_max_cores():
    with pytest.raises(PlanError) as caught:
        host_plan_for([BIRD, BIRD], batch_system="slurm")
    assert caught.value.variable == "cactus_cons_cores"
    assert caught.value.fix == "give the cores of one node of your cluster"
    assert "--consCores required for non single_machine" in caught.value.problem
    # What the plan refuses: Cactus would ask the cluster for Toil's unlimited --maxCores default.
    argv = host_plan_for([BIRD, BIRD], batch_system="slurm", cons_cores=8)["cactus_argv"]
    index = argv.index("--consCores")
    with pytest.raises(AssertionError, match="unlimited --maxCores"):
        check_host_cactus_argv_with_toil(argv[:index] + argv[index + 2:])


@pytest.mark.parametrize("batch_system,fragment", [
    ("slurmm", "did you mean slurm?"), ("Slurm", "did you mean slurm?"), ("singleMachine", "single_machine"),
    ("gridengine", "did you mean grid_engine?"), ("pbs", "use one of: grid_engine, htcondor, lsf, "
                                                        "single_machine, slurm, torque"),
    ("", "use one of"),
])
def test_unknown_batch_systems_are_refused_with_the_valid_ones(batch_system, fragment):
    with pytest.raises(PlanError) as caught:
        host_plan_for([SMALL, SMALL], batch_system=batch_system, cons_cores=4)
    assert caught.value.variable == "cactus_batch_system"
    assert "is not a Toil 9.4.1 batch system" in caught.value.problem
    assert fragment in caught.value.fix, str(caught.value)


@pytest.mark.parametrize("batch_system", ["kubernetes", "mesos", "aws_batch"])
def test_cluster_batch_systems_are_refused_on_a_host(batch_system):
    with pytest.raises(PlanError) as caught:
        host_plan_for([SMALL, SMALL], batch_system=batch_system, cons_cores=4)
    assert caught.value.variable == "cactus_batch_system"
    assert caught.value.fix == NO_TARGET_HOST_FIX
    assert NO_TARGET_HOST_FIX == "leave cactus_target_hosts empty to run on a Toil cluster on AWS"


@pytest.mark.parametrize("overrides,variable,fragment", [
    (dict(max_cores=0), "cactus_max_cores", "whole number >= 1"),
    (dict(max_cores=-4), "cactus_max_cores", "whole number >= 1"),
    (dict(max_cores=True), "cactus_max_cores", "whole number >= 1"),
    (dict(max_cores="8"), "cactus_max_cores", "whole number >= 1"),
    (dict(max_memory="64X"), "cactus_max_memory", "not a valid unit"),
    (dict(max_memory="lots"), "cactus_max_memory", "Toil cannot read"),
    (dict(max_memory=""), "cactus_max_memory", "Toil cannot read"),
    (dict(max_memory="G"), "cactus_max_memory", "Toil cannot read"),
    (dict(max_memory="0"), "cactus_max_memory", "at least 1"),
    (dict(max_memory="-5G"), "cactus_max_memory", "at least 1"),
    (dict(max_memory=0), "cactus_max_memory", "at least 1"),
    (dict(max_memory=True), "cactus_max_memory", "not a size"),
    (dict(max_memory=1.5), "cactus_max_memory", "not a size"),
    (dict(cons_cores=0), "cactus_cons_cores", "whole number >= 1"),
    (dict(cons_cores=16, max_cores=8), "cactus_cons_cores", "above cactus_max_cores 8"),
    (dict(batch_system="lsf", cons_cores=16, max_cores=8), "cactus_cons_cores", "--consCores must be <="),
    (dict(output="s3://bucket/out.hal"), "cactus_output", "an s3:// output needs AWS"),
    (dict(output="s3://bucket/out.hal"), "cactus_output", "the HAL is fetched back"),
    (dict(output="gs://bucket/out.hal"), "cactus_output", "not an s3://bucket/key URL or a local path"),
    (dict(output=None), "cactus_output", "no output"),
    (dict(leader_run_dir=None), "cactus_leader_dir", "no run directory"),
    (dict(leader_run_dir=""), "cactus_leader_dir", "no run directory"),
    (dict(leader_run_dir="cactus/runs/myrun"), "cactus_leader_dir", "not an absolute path"),
    (dict(leader_run_dir="~/cactus/runs/myrun"), "cactus_leader_dir", "not an absolute path"),
    (dict(leader_run_dir="/"), "cactus_leader_dir", "the root directory"),
    (dict(target_host="two hosts"), "cactus_target_hosts", "not the name of one inventory host"),
])
def test_bad_host_inputs_name_the_variable_and_the_fix(overrides, variable, fragment):
    with pytest.raises(PlanError) as caught:
        host_plan_for([SMALL, SMALL], **overrides)
    assert caught.value.variable == variable
    assert fragment in caught.value.problem + caught.value.fix, str(caught.value)
    assert str(caught.value).startswith(f"{variable}: ") and "Fix: " in str(caught.value)


def test_s3_output_on_a_host_says_what_to_do():
    with pytest.raises(PlanError) as caught:
        host_plan_for([SMALL, SMALL], output="s3://bucket/out.hal")
    assert caught.value.problem == ("an s3:// output needs AWS, and a run on an inventory host makes no "
                                    "AWS call")
    assert caught.value.fix == "give a path on the controller: the HAL is fetched back"


@pytest.mark.parametrize("value,expected", [
    ("64G", 64 * 10**9), ("2048M", 2048 * 10**6), ("500Gi", 500 * 2**30), ("1.5T", 1_500 * 10**9),
    (68719476736, 2**36), ("1073741824", 2**30),
])
def test_max_memory_is_read_like_toil_reads_it(value, expected):
    plan = host_plan_for([SMALL, SMALL], max_memory=value)
    assert plan["max_memory"] == str(value)
    assert check_host_cactus_argv_with_toil(plan["cactus_argv"]).maxMemory == expected


def test_run_dir_is_normalized():
    plan = host_plan_for([SMALL, SMALL], leader_run_dir="/home/alice//cactus/runs/myrun/")
    assert plan["leader_run_dir"] == HOST_RUN_DIR and plan["jobstore"] == f"{HOST_RUN_DIR}/jobstore"
    assert plan["jobstore_name"] == "myrun"


def test_host_plan_keeps_given_leader_paths():
    plan = host_plan_for([SMALL, SMALL], leader_seqfile="/scratch/seq.txt", leader_output="/scratch/o.hal",
                         log_file="/scratch/cactus.log")
    assert plan["cactus_argv"][1:4] == [f"{HOST_RUN_DIR}/jobstore", "/scratch/seq.txt", "/scratch/o.hal"]
    assert plan["cactus_argv"][-1] == "/scratch/cactus.log"
    check_host_cactus_argv_with_toil(plan["cactus_argv"])


def test_host_plan_ignores_every_aws_setting():
    bogus = dict(cluster_name="Not_A_Name", zone="nowhere", key_pair_name="", node_types=["x.huge:-1"],
                 min_nodes="a", max_nodes=[0], spot_bid=-1, leader_node_type="t2.nano", leader_storage=0,
                 node_storage=0, owner="=", jobstore_name="BAD:NAME", on_demand_prices={"x": "y"},
                 existing_clusters=["bigserver", "cactus"], cluster_type="slurm", run_tag_value="a=b")
    plan = host_plan_for([SMALL, SMALL], **bogus)
    assert plan == host_plan_for([SMALL, SMALL])


@pytest.mark.parametrize("extra,fragment", [
    (["--batchSystem", "slurm"], "set cactus_batch_system instead"),
    (["--batchSys=slurm"], "set cactus_batch_system instead"),
    (["--maxCores", "8"], "set cactus_max_cores instead"),
    (["--maxMemory=64G"], "set cactus_max_memory instead"),
    (["--maxMem", "64G"], "set cactus_max_memory instead"),
    (["--consCores", "8"], "set cactus_cons_cores instead"),
    (["--logFile", "/tmp/x.log"], "the plan's log_file"),
    (["--restart"], "the plan's cactus_restart_argv"),
    (["--provisioner", "aws"], NO_CLUSTER_FIX),
    (["-p", "aws"], NO_CLUSTER_FIX),
    (["--nodeTypes", "c5.4xlarge"], NO_CLUSTER_FIX),
    (["--minNodes", "0"], NO_CLUSTER_FIX),
    (["--maxNodes=4"], NO_CLUSTER_FIX),
    (["--nodeStorage", "100"], NO_CLUSTER_FIX),
    ("--root g0 --metrics aws:us-west-2:js", "takes a boolean"),
])
def test_host_extra_options_refused(extra, fragment):
    with pytest.raises(PlanError) as caught:
        host_plan_for([SMALL, SMALL], extra_options=extra)
    assert caught.value.variable == "cactus_extra_options"
    assert fragment in caught.value.problem + caught.value.fix, str(caught.value)
    assert NO_CLUSTER_FIX == "a run on an inventory host has no cluster to scale"


@pytest.mark.parametrize("extra", [
    ["--binariesMode", "local"], ["--binariesMode=singularity"], "--binariesMode docker --root g1",
    ["--defaultDisk", "8G", "--maxDisk", "100G", "--consMemory", "100Gi", "--metrics", "false"],
    ["--defaultPreemptible"], ["--maxOutgroups", "2"],
])
def test_host_extra_options_allowed(extra):
    plan = host_plan_for([SMALL, SMALL], extra_options=extra)
    tokens = extra.split() if isinstance(extra, str) else extra
    assert plan["cactus_argv"][-len(tokens):] == tokens
    assert plan["cactus_restart_argv"][-len(tokens) - 1:] == [*tokens, "--restart"]
    check_host_cactus_argv_with_toil(plan["cactus_argv"])


def test_binaries_mode_is_still_planned_on_aws():
    with pytest.raises(PlanError, match="set toil_cluster_type instead"):
        plan_for([MAMMAL, MAMMAL], extra_options=["--binariesMode", "local"])


def test_big_genomes_on_a_single_machine_warn():
    plan = host_plan_for([MAMMAL, SMALL, None, NEMATODE])
    [warning] = plan["warnings"]
    assert warning.startswith("3 genome(s) are 100 Mb or more, or of unknown size "
                              "(g0 (mammal), g2 (size unknown), g3 (nematode)): ")
    assert "an autoscaling Toil cluster on AWS (leave cactus_target_hosts empty) finishes" in warning
    assert "one machine needs the memory" in warning
    assert "g1" not in warning


def test_big_genome_warning_names_at_most_five():
    [warning] = host_plan_for([BIRD] * 7)["warnings"]
    assert "g4 (bird), ...)" in warning and "g5" not in warning and warning.startswith("7 genome(s)")


def test_no_big_genome_warning_when_small_or_off_single_machine():
    assert host_plan_for([SMALL] * 4)["warnings"] == []
    assert host_plan_for([MAMMAL] * 2, batch_system="lsf", max_cores=64)["warnings"] == []


def test_host_plan_keeps_the_seqfile_warnings():
    text = "(a,b);\na a.fa\nb b.fa\nunused u.fa\n"
    seqfile = parse_seqfile_text(text, "/d/seq.txt")
    settings = PlanSettings(target_host=HOST, output="/tmp/o.hal", leader_run_dir=HOST_RUN_DIR)
    plan = build_plan(seqfile, {"a": {"size": SMALL}, "b": {"size": SMALL}}, settings)
    assert plan["warnings"] == list(seqfile.warnings) and plan["warnings"]


# ---- Genome measurement (module_utils/cactus_measure.py) ---------------------------------------

def bgzf(data):
    """One BGZF block holding `data`, then the BGZF end-of-file block (SAM/BAM specification)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = packer.compress(data) + packer.flush()
    header = (b"\x1f\x8b\x08\x04" + b"\x00" * 4 + b"\x00\xff" + struct.pack("<H", 6) + b"BC"
              + struct.pack("<HH", 2, 18 + len(body) + 8 - 1))
    eof = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    return header + body + struct.pack("<II", zlib.crc32(data), len(data)) + eof


def local_genome(text_path, written):
    """The Genome for a seqFile line 'a <written>' in a seqFile at text_path."""
    return parse_seqfile_text(f"(a,b);\na {written}\nb b.fa\n", str(text_path)).genomes[0]


def test_measure_plain_fasta(tmp_path, write_fasta):
    write_fasta(str(tmp_path / "a.fa"), size=1000)
    measured = cactus_measure.measure_local(local_genome(tmp_path / "seq.txt", "a.fa"))
    assert measured["size"] == measured["size_on_disk"] == 1000 and measured["method"] == "file size"


def test_measure_gzip_uses_isize(tmp_path):
    data = b">a\n" + b"ACGT" * 5000
    (tmp_path / "a.fa.gz").write_bytes(gzip.compress(data))
    measured = cactus_measure.measure_local(local_genome(tmp_path / "seq.txt", "a.fa.gz"))
    assert measured["size"] == len(data) and measured["method"] == "gzip ISIZE"
    assert measured["size_on_disk"] == (tmp_path / "a.fa.gz").stat().st_size


def test_measure_bgzf_uses_the_ratio(tmp_path):
    (tmp_path / "a.fa.gz").write_bytes(bgzf(b">a\n" + b"ACGT" * 1000))
    measured = cactus_measure.measure_local(local_genome(tmp_path / "seq.txt", "a.fa.gz"))
    disk = (tmp_path / "a.fa.gz").stat().st_size
    assert measured["size"] == int(disk * cactus_measure.GZIP_DNA_RATIO)
    assert "BGZF" in measured["method"]


def test_gzip_isize_wrap_is_corrected(tmp_path):
    # A sparse 1.3 GB "gzip" whose true size is ~4.4 GB: ISIZE holds it modulo 2^32.
    path = tmp_path / "big.fa.gz"
    disk, true_size = 1_300_000_000, 4_420_000_000
    with open(path, "wb") as handle:
        handle.write(b"\x1f\x8b\x08\x00" + b"\x00" * 14)
        handle.seek(disk - 4)
        handle.write(struct.pack("<I", true_size % 2**32))
    head = b"\x1f\x8b\x08\x00" + b"\x00" * 14
    size, method = cactus_measure.gzip_uncompressed_size(str(path), head, disk)
    assert (size, method) == (true_size, "gzip ISIZE")


def test_measure_directory_of_fasta(tmp_path, write_fasta):
    write_fasta(str(tmp_path / "g" / "chr1.fa"), size=300)
    write_fasta(str(tmp_path / "g" / "chr2.fa"), size=200)
    measured = cactus_measure.measure_local(local_genome(tmp_path / "seq.txt", "g"))
    assert measured["size"] == 500 and measured["method"] == "directory of 2 files"


@pytest.mark.parametrize("setup,fragment", [
    ("missing", "does not exist"),
    ("not fasta", "neither FASTA"),
    ("empty file", "neither FASTA"),
    ("gzip not fasta", "does not hold FASTA"),
    ("empty dir", "is empty"),
    ("dir with subdir", "not a regular file"),
    ("dir with text", "neither FASTA"),
    ("dir mixing gzip and plain", "mixes gzipped and plain"),
    ("fifo", "not a regular file"),
])
def test_measure_local_errors(tmp_path, write_fasta, setup, fragment):
    target = tmp_path / "x"
    if setup == "not fasta":
        target.write_text("ACGT\n")
    elif setup == "empty file":
        target.write_bytes(b"")
    elif setup == "gzip not fasta":
        target.write_bytes(gzip.compress(b"hello"))
    elif "dir" in setup:
        target.mkdir()
        if setup == "dir with subdir":
            (target / "sub").mkdir()
        elif setup == "dir with text":
            (target / "README").write_text("notes")
        elif setup == "dir mixing gzip and plain":
            write_fasta(str(target / "a.fa"))
            (target / "b.fa.gz").write_bytes(gzip.compress(b">b\nAC\n"))
    elif setup == "fifo":
        os.mkfifo(target)
    with pytest.raises(cactus_measure.MeasureError) as caught:
        cactus_measure.measure_local(local_genome(tmp_path / "seq.txt", "x"))
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("line 2: genome 'a' (x): ") and "Fix: " in str(caught.value)


class RangeOnlyHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files; refuses HEAD under /nohead/ and answers a one-byte Range GET there."""

    def log_message(self, *args):
        pass

    def do_HEAD(self):  # noqa: N802 - http.server's method name
        if self.path.startswith("/nohead/"):
            self.send_error(405)
            return
        super().do_HEAD()

    def do_GET(self):  # noqa: N802
        if not self.path.startswith("/nohead/"):
            super().do_GET()
            return
        size = os.path.getsize(self.translate_path(self.path.replace("/nohead", "", 1)))
        self.send_response(206)
        self.send_header("Content-Range", f"bytes 0-0/{size}")
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b">")


@pytest.fixture
def web(tmp_path, monkeypatch):
    """A web server on 127.0.0.1 serving tmp_path/www; yields (directory, base URL)."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(RangeOnlyHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name,path,expect", [
    ("a.fa", "/a.fa", ("size", 1000)),
    ("a.fa.gz", "/a.fa.gz", ("size", int(1000 * 3.4))),
    ("a.fa", "/nohead/a.fa", ("size", 1000)),
])
def test_measure_http(web, write_fasta, name, path, expect):
    root, base = web
    if name.endswith(".gz"):
        (root / name).write_bytes(b"x" * 1000)
    else:
        write_fasta(str(root / name), size=1000)
    genome = local_genome("/d/seq.txt", base + path)
    assert genome.kind == "http"
    measured = cactus_measure.measure_http(genome, timeout=5)
    assert measured[expect[0]] == expect[1]
    assert measured["size_on_disk"] == 1000
    # With the size, it fingerprints the URL in the run record (the ranged GET here sends none).
    assert bool(measured["last_modified"]) == (not path.startswith("/nohead/"))


def test_measure_http_missing_is_an_error(web):
    _, base = web
    with pytest.raises(cactus_measure.MeasureError, match="cannot reach the URL.*Fix: .*offline=true"):
        cactus_measure.measure_http(local_genome("/d/seq.txt", base + "/missing.fa"), timeout=5)


@pytest.fixture
def fake_aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-west-2", "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from moto import mock_aws

    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-west-2")
        s3.create_bucket(Bucket="genomes", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        s3.put_object(Bucket="genomes", Key="birds/a.fa", Body=b">a\n" + b"ACGT" * 100)
        s3.put_object(Bucket="genomes", Key="birds/b.fa.gz", Body=b"z" * 100)
        yield s3


def test_measure_s3(fake_aws):
    plain = cactus_measure.measure_s3(local_genome("/d/seq.txt", "s3://genomes/birds/a.fa"), "us-west-2")
    assert plain["size"] == 403 and plain["method"] == "S3 length"
    assert plain["etag"] and plain["last_modified"]
    zipped = cactus_measure.measure_s3(local_genome("/d/seq.txt", "s3://genomes/birds/b.fa.gz"), "us-west-2")
    assert zipped["size"] == 340 and zipped["size_on_disk"] == 100


def test_measure_s3_missing_is_an_error(fake_aws):
    with pytest.raises(cactus_measure.MeasureError, match="S3 says"):
        cactus_measure.measure_s3(local_genome("/d/seq.txt", "s3://genomes/birds/nope.fa"), "us-west-2")


def test_measure_genomes_offline_and_given_sizes(tmp_path, write_fasta):
    write_fasta(str(tmp_path / "a.fa"), size=100)
    text = "((a,b),(c,d));\na a.fa\nb https://h/b.fa\nc s3://bkt/c.fa\nd ftp://h/d.fa\n"
    seqfile = parse_seqfile_text(text, str(tmp_path / "seq.txt"))
    measured = cactus_measure.measure_genomes(seqfile, offline=True, known_sizes={"c": 5 * GB})
    assert measured["a"]["size"] == 100
    assert measured["b"] == {"size": None, "size_on_disk": None, "method": "offline"}
    assert measured["c"]["size"] == 5 * GB and measured["c"]["method"] == "given"
    assert measured["d"]["size"] is None
    given_local = cactus_measure.measure_genomes(seqfile, offline=True, known_sizes={"a": "3000000000"})
    assert given_local["a"] == {"size": 3 * GB, "size_on_disk": 100, "method": "given", "gzip": False}
    with pytest.raises(cactus_measure.MeasureError, match="genome_sizes gives 'big'"):
        cactus_measure.measure_genomes(seqfile, offline=True, known_sizes={"b": "big"})
    os.remove(tmp_path / "a.fa")
    with pytest.raises(cactus_measure.MeasureError, match="does not exist"):
        cactus_measure.measure_genomes(seqfile, offline=True, known_sizes={"a": 5})


@pytest.fixture
def no_aws_client(monkeypatch):
    """Any boto3/botocore client made from now on fails the test: a host run makes no AWS call."""
    import boto3
    import botocore.session

    def refuse(*args, **kwargs):
        raise AssertionError(f"an AWS client was made: {args} {kwargs}")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3, "resource", refuse)
    monkeypatch.setattr(botocore.session.Session, "create_client", refuse)


def test_the_no_aws_client_fixture_bites(no_aws_client):
    with pytest.raises(AssertionError, match="an AWS client was made"):
        cactus_measure.measure_s3(local_genome("/d/seq.txt", "s3://genomes/birds/a.fa"), "us-west-2")


def test_host_run_does_not_measure_s3_genomes(tmp_path, write_fasta, no_aws_client):
    write_fasta(str(tmp_path / "a.fa"), size=100)
    text = "((a,b),(c,d));\na a.fa\nb s3://bkt/b.fa\nc s3://bkt/c.fa\nd ftp://h/d.fa\n"
    seqfile = parse_seqfile_text(text, str(tmp_path / "seq.txt"))
    measured = cactus_measure.measure_genomes(seqfile, host_run=True, known_sizes={"c": 5 * GB})
    assert measured["a"]["size"] == 100
    assert measured["b"] == {"size": None, "size_on_disk": None,
                             "method": "not measured on a host run (no AWS call)"}
    assert measured["c"]["size"] == 5 * GB and measured["c"]["method"] == "given"
    assert measured["d"]["size"] is None


def test_host_run_still_measures_http_genomes(web, write_fasta, no_aws_client):
    root, base = web
    write_fasta(str(root / "b.fa"), size=1000)
    seqfile = parse_seqfile_text(f"(a,b);\na s3://bkt/a.fa\nb {base}/b.fa\n", "/d/seq.txt")
    measured = cactus_measure.measure_genomes(seqfile, host_run=True, timeout=5)
    assert measured["b"]["size"] == 1000 and measured["b"]["method"] == "HTTP length"
    assert measured["a"]["size"] is None
    offline = cactus_measure.measure_genomes(seqfile, host_run=True, offline=True)
    assert offline["b"]["method"] == "offline"


def module_params(plan_module, **values):
    """The module's parameters as AnsibleModule would give them: every default, then `values`."""
    params = {name: spec.get("default") for name, spec in plan_module.ARGUMENT_SPEC.items()}
    params.update(values)
    return params


def test_make_plan_on_a_host_needs_no_cluster_zone_or_key_pair(tmp_path, plan_module, write_fasta,
                                                              no_aws_client):
    write_fasta(str(tmp_path / "a.fa"), size=1000)
    write_fasta(str(tmp_path / "b.fa"), size=2000)
    seqfile = tmp_path / "seq.txt"
    seqfile.write_text("((a,b),c);\na a.fa\nb b.fa\nc s3://bkt/c.fa\n")
    params = module_params(plan_module, seqfile=str(seqfile), output=str(tmp_path / "out.hal"),
                           target_host=HOST, batch_system="slurm", cons_cores=16, max_memory="256G",
                           leader_run_dir=HOST_RUN_DIR, run_dir=str(tmp_path / "run"))
    assert params["cluster_name"] is params["zone"] is params["key_pair_name"] is None
    plan = plan_module.make_plan(params)
    assert set(plan) == HOST_PLAN_KEYS and plan["mode"] == "host"
    assert [g["size"] for g in plan["genomes"]] == [1000, 2000, None]
    assert plan["genomes"][2]["size_method"] == "not measured on a host run (no AWS call)"
    assert plan["genomes"][2]["leader_path"] == "s3://bkt/c.fa"
    assert plan["max_memory"] == "256G" and plan["cons_cores"] == 16
    options = check_host_cactus_argv_with_toil(plan["cactus_argv"])
    assert options.batchSystem == "slurm" and options.maxMemory == 256 * 10**9


@pytest.mark.parametrize("missing,variable", [("zone", "toil_zone"), ("cluster_name", "toil_cluster_name"),
                                              ("key_pair_name", "toil_key_pair_name")])
def test_make_plan_on_aws_still_needs_them_before_measuring(tmp_path, plan_module, no_aws_client,
                                                            missing, variable):
    seqfile = tmp_path / "seq.txt"
    seqfile.write_text("(a,b);\na s3://bkt/a.fa\nb s3://bkt/b.fa\n")
    params = module_params(plan_module, seqfile=str(seqfile), output="s3://bkt/o.hal", cluster_name="cx",
                           zone=ZONE, key_pair_name="k", run_dir=str(tmp_path / "run"))
    params[missing] = None
    with pytest.raises(PlanError) as caught:  # not the AssertionError of an S3 client
        plan_module.make_plan(params)
    assert caught.value.variable == variable


def test_write_if_changed(tmp_path, plan_module):
    path = str(tmp_path / "run" / "plan.json")
    assert plan_module.write_if_changed(path, "x", dry_run=True) and not os.path.exists(path)
    assert plan_module.write_if_changed(path, "x") is True
    assert plan_module.write_if_changed(path, "x") is False
    assert not plan_module.write_if_changed(path, "x", dry_run=True)
    assert plan_module.write_if_changed(path, "y", dry_run=True) and Path(path).read_text() == "x"
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


# ---- The module through Ansible ------------------------------------------------------------------

ANSIBLE_BIN = Path(sys.executable).parent


def run_module(args, tmp_path, *options):
    """`ansible localhost -m cactus_plan -a <json>` with the project's ansible.cfg; the task result."""
    hosts = tmp_path / "hosts.ini"
    hosts.write_text("")  # implicit localhost only, independent of the project's inventory
    # Only the ini inventory plugin: the test needs implicit localhost, not the project's inventory.
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_INVENTORY_ENABLED="ini")
    command = [str(ANSIBLE_BIN / "ansible"), "-i", str(hosts), "localhost",
               "-m", "genomics.cactus.cactus_plan", "-a", json.dumps(args), *options]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ansible printed no JSON (rc {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return report["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture
def small_run(tmp_path, write_fasta):
    """A seqFile with relative paths: plain, gzipped and directory genomes, and the module args."""
    data = tmp_path / "data"
    write_fasta(str(data / "fa" / "human.fa"), size=4000)
    write_fasta(str(data / "fa" / "mouse" / "chr1.fa"), size=1000)
    write_fasta(str(data / "fa" / "mouse" / "chr2.fa"), size=1000)
    (data / "fa" / "rat.fa.gz").write_bytes(gzip.compress(b">r\n" + b"ACGT" * 500))
    (data / "seq.txt").write_text("# three genomes\n(human:0.1,(mouse:0.08,rat:0.09)mr:0.2);\n\n"
                                  "*human\tfa/human.fa\nmouse fa/mouse\nrat  fa/rat.fa.gz\n")
    args = dict(seqfile=str(data / "seq.txt"), output=str(tmp_path / "out" / "run.hal"),
                cluster_name="cactus-unit", zone=ZONE, key_pair_name="unit-key", offline=True,
                run_dir=str(tmp_path / "runs" / "cactus-unit"), workflow="progressive",
                on_demand_prices={"r3.8xlarge": 2.66, "m5.large": 0.096})
    return args


def test_module_plans_writes_once_and_honours_check_mode(small_run, tmp_path):
    first = run_module(small_run, tmp_path)
    assert first.get("failed") is not True, first.get("msg")
    assert first["changed"] is True
    plan_file = Path(first["plan_file"])
    assert plan_file == tmp_path / "runs" / "cactus-unit" / "plan.json"
    written = plan_file.read_text()
    plan = json.loads(written)
    assert plan == first["plan"]
    assert [g["name"] for g in plan["genomes"]] == ["human", "mouse", "rat"]
    assert [g["size"] for g in plan["genomes"]] == [4000, 2000, 2003]
    assert plan["genomes"][0]["resolved"] == str(tmp_path / "data" / "fa" / "human.fa")
    assert plan["single_machine_recommended"] is True and plan["max_nodes"] == [2, 1]
    assert plan["cactus_argv"][3] == "/var/lib/toil/cactus/cactus-unit-jobstore/run.hal"
    assert plan["cost_per_hour"]["total"] == pytest.approx(2 * 1.591 + 2.66 + 0.096)
    check_cactus_argv_with_toil(plan["cactus_argv"])

    second = run_module(small_run, tmp_path)
    assert second["changed"] is False and second["plan"] == plan

    checked = run_module(dict(small_run, max_nodes=[9, 2]), tmp_path, "--check")
    assert checked["changed"] is True and checked["plan"]["max_nodes"] == [9, 2]
    assert plan_file.read_text() == written  # check mode wrote nothing


def test_module_plans_a_host_run_without_aws(small_run, tmp_path):
    seqfile = Path(small_run["seqfile"])
    seqfile.write_text(seqfile.read_text().replace("fa/rat.fa.gz", "s3://genomes/rat.fa"))
    args = {key: value for key, value in small_run.items()
            if key not in ("cluster_name", "zone", "key_pair_name", "on_demand_prices", "offline")}
    args.update(target_host=HOST, leader_run_dir=HOST_RUN_DIR, max_cores=4, max_memory=8 * 2**30)
    result = run_module(args, tmp_path)
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True
    plan = json.loads(Path(result["plan_file"]).read_text())
    assert plan == result["plan"] and set(plan) == HOST_PLAN_KEYS and plan["mode"] == "host"
    assert [g["size"] for g in plan["genomes"]] == [4000, 2000, None]
    assert plan["genomes"][2]["size_method"] == "not measured on a host run (no AWS call)"
    assert plan["max_memory"] == str(8 * 2**30) and plan["max_cores"] == 4
    assert plan["leader_output"] == f"{HOST_RUN_DIR}/run.hal"
    assert result["msg"] == plan["summary"]
    assert f"host {HOST}: --batchSystem single_machine, maxCores 4, maxMemory {8 * 2**30}" in result["msg"]
    [warning] = result["warnings"]  # rat's size is unknown: not measured
    assert warning.startswith("1 genome(s) are 100 Mb or more, or of unknown size (rat (size unknown))")
    options = check_host_cactus_argv_with_toil(plan["cactus_argv"])
    assert options.maxCores == 4 and options.maxMemory == 8 * 2**30
    assert run_module(args, tmp_path)["changed"] is False

    refused = run_module(dict(args, batch_system="kubernetes"), tmp_path)
    assert refused["failed"] is True
    assert refused["msg"].startswith("cactus_batch_system: 'kubernetes' needs a cluster of its own")


def test_module_fails_with_the_seqfile_line(small_run, tmp_path):
    seqfile = Path(small_run["seqfile"])
    seqfile.write_text(seqfile.read_text() + "mouse fa/other.fa\n")
    result = run_module(small_run, tmp_path)
    assert result["failed"] is True
    assert "line 7: duplicate genome name 'mouse'" in result["msg"] and "Fix: " in result["msg"]
    assert not Path(small_run["run_dir"], "plan.json").exists()


def test_module_fails_on_a_missing_genome_file(small_run, tmp_path):
    os.remove(Path(small_run["seqfile"]).parent / "fa" / "human.fa")
    result = run_module(small_run, tmp_path)
    assert result["failed"] is True and "line 4: genome 'human'" in result["msg"]
    assert "does not exist" in result["msg"]


# ---- Governed accounts ------------------------------------------------------------------------------

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_governed import (  # noqa: E402 - grouped with its tests
    appliance_image_lookup,
    check_instance_profile,
    check_tag,
    check_user_tags,
)

PROFILE_ARN = "arn:aws:iam::123456789012:instance-profile/ops/ops-cactus-node"
GOVERNED = dict(
    vpc_subnet="subnet-0abc1234def567890", use_private_ip=True, instance_profile_arn=PROFILE_ARN,
    extra_security_groups=["sg-0aaa1111", "sg-0bbb2222"], tags={"CostCenter": 4711, "Team": "gen omics"},
    aws_ami="ami-0abc1234", appliance_image="registry.example.org/mirror/toil:9.4.1-abc-py3.10",
)  # fmt: skip


@pytest.mark.parametrize("key,value,ok", [
    ("CostCenter", "4711", True), ("a" * 128, "b" * 256, True), ("Ünïcode key", "välue", True),
    ("k", "", True), ("k:a/b@c+d-e.f_g", "v", True),
    ("", "v", False), ("a" * 129, "v", False), ("k", "b" * 257, False), ("aws:cost", "v", False),
    ("AWS:cost", "v", False), ("k=x", "v", False), ("k", "v=w", False), ("k!", "v", False),
    ("k", "a;b", False), ("k", 7, False),
])
def test_tags_follow_ec2s_rules(key, value, ok):
    if ok:
        check_tag(key, value, "toil_tags")
    else:
        with pytest.raises(PlanError, match="^toil_tags: "):
            check_tag(key, value, "toil_tags")


@pytest.mark.parametrize("tags,fragment", [
    ({"Owner": "me"}, "set toil_owner instead"), ({"Name": "x"}, "writes itself"),
    ({"clusterName": "x"}, "writes itself"), ({"ToilNodeType": "leader"}, "writes itself"),
    ({"kubernetes.io/cluster/x": ""}, "writes itself"), ({"cactus-run": "x"}, "writes itself"),
    ({f"k{i}": "v" for i in range(44)}, "keep at most 43"), (["CostCenter=1"], "not a mapping"),
    ({"aws:x": "v"}, "AWS reserves"), ({"k": None}, "at most 256"),
])
def test_user_tags_leave_toils_own_keys_alone(tags, fragment):
    with pytest.raises(PlanError) as caught:
        check_user_tags(tags)
    assert caught.value.variable == "toil_tags" and fragment in str(caught.value)


def test_user_tags_take_numbers_as_text():
    tags = {"CostCenter": 4711, "Team": "genomics"}
    assert check_user_tags(tags) == {"CostCenter": "4711", "Team": "genomics"}
    assert check_user_tags(None) == {} and check_user_tags({}) == {}


def test_instance_profiles_destroy_cluster_would_delete_are_refused():
    assert check_instance_profile(PROFILE_ARN, "cactus") == "ops-cactus-node"
    assert check_instance_profile("", "cactus") is None
    # destroy-cluster 'ops' deletes every role and profile named 'ops_...' (Toil's namespace).
    with pytest.raises(PlanError, match="would delete the instance profile ops_node"):
        check_instance_profile("arn:aws:iam::123456789012:instance-profile/ops_node", "ops")
    with pytest.raises(PlanError, match="would delete the role ops_cactus"):
        check_instance_profile(PROFILE_ARN, "ops", ["ops_cactus"])


@pytest.mark.parametrize("change,variable,fragment", [
    (dict(vpc_subnet="subnet-xyz"), "toil_vpc_subnet", "not a subnet id"),
    (dict(instance_profile_arn="arn:aws:iam::123456789012:role/ops"), "toil_instance_profile_arn",
     "not an instance profile ARN"),
    (dict(instance_profile_arn="arn:aws:iam::123456789012:instance-profile/cactus_test_profile"),
     "toil_instance_profile_arn", "would delete"),
    (dict(extra_security_groups=["ops-baseline"]), "toil_extra_security_groups", "ids, not names"),
    (dict(extra_security_groups="sg-0aaa1111"), "toil_extra_security_groups", "not a list"),
    (dict(extra_security_groups=["sg-0aaa1111", "sg-0aaa1111"]), "toil_extra_security_groups", "twice"),
    (dict(tags={"aws:owner": "x"}), "toil_tags", "AWS reserves"),
    (dict(aws_ami="ami-xyz"), "toil_aws_ami", "not an AMI id"),
    (dict(appliance_image="quay.io/ucsc_cgl/toil"), "toil_appliance_image", "tag or digest"),
    (dict(appliance_image="quay.io/ucsc_cgl/toil:latest"), "toil_appliance_image", "'latest' moves"),
    (dict(appliance_image="https://quay.io/toil:9"), "toil_appliance_image", "not a pinned image"),
])
def test_bad_governed_settings_name_the_variable(change, variable, fragment):
    with pytest.raises(PlanError) as caught:
        plan_for([MAMMAL, MAMMAL], **{**GOVERNED, **change})
    assert caught.value.variable == variable and fragment in str(caught.value), str(caught.value)


def test_governed_settings_reach_toils_launch_cluster(monkeypatch):
    plan = plan_for([MAMMAL, MAMMAL], **GOVERNED)
    governed = plan["governed"]
    assert governed["creates_iam_role"] is False and governed["use_private_ip"] is True
    assert governed["tags"] == {"Owner": "my-key", "CostCenter": "4711", "Team": "gen omics",
                                "cactus-run": "cactus-test-jobstore"}
    assert plan["launch_cluster_environment"] == {
        "TOIL_AWS_ZONE": ZONE, "TOIL_AWS_AMI": "ami-0abc1234",
        "TOIL_APPLIANCE_SELF": "registry.example.org/mirror/toil:9.4.1-abc-py3.10"}
    assert json.loads(plan["cactus_environment"]["TOIL_AWS_TAGS"]) == governed["tags"]
    assert "Toil creates no IAM role" in plan["summary"] and "subnet-0abc1234def567890" in plan["summary"]
    assert "--forceDockerAppliance" not in plan["launch_cluster_argv"]
    options, cluster = run_toil_launch_cluster(plan["launch_cluster_argv"], monkeypatch)
    launch = dict(cluster.calls)["launchCluster"]
    assert launch["vpcSubnet"] == "subnet-0abc1234def567890"
    assert launch["awsEc2ProfileArn"] == PROFILE_ARN
    assert launch["awsEc2ExtraSecurityGroupIds"] == ["sg-0aaa1111", "sg-0bbb2222"]
    assert launch["userTags"] == {k: v for k, v in governed["tags"].items() if k != "Owner"}
    assert launch["owner"] == "my-key"


def test_an_ordinary_account_keeps_toils_defaults():
    plan = plan_for([MAMMAL, MAMMAL])
    assert plan["governed"]["creates_iam_role"] is True and plan["governed"]["vpc_subnet"] is None
    assert plan["launch_cluster_environment"] == {"TOIL_AWS_ZONE": ZONE}
    governed_options = {"--vpcSubnet", "--awsEc2ProfileArn", "--awsEc2ExtraSecurityGroupId"}
    assert not governed_options & set(plan["launch_cluster_argv"])
    assert "account:" not in plan["summary"]


def test_appliance_images_named_with_toils_commit_are_never_looked_up():
    from toil import applianceSelf
    from toil.version import currentCommit

    image = f"registry.example.org/mirror/toil:9.4.1-{currentCommit}-py3.10"
    assert appliance_image_lookup(image) == "skipped" and appliance_image_lookup("") is None
    assert appliance_image_lookup("registry.example.org/mirror/toil:9.4.1") == "registry"
    # Toil's own check, as its launch makes it (without forceDockerAppliance): no request at all.
    os.environ["TOIL_APPLIANCE_SELF"] = image
    try:
        assert applianceSelf() == image
    finally:
        del os.environ["TOIL_APPLIANCE_SELF"]
SLURM_FACTS = {"name": "batch", "default": True, "time_limit": "1-00:00:00", "cpus": 64, "memory_mb": 512000}


def test_slurm_plan_takes_its_defaults_from_the_partition_and_says_so():
    plan = host_plan_for([BIRD, BIRD], batch_system="slurm", slurm_facts=SLURM_FACTS, host_cores=4)
    argv = plan["cactus_argv"]
    options = check_host_cactus_argv_with_toil(argv)
    assert options.slurm_partition == "batch" and options.slurm_time == 86400
    assert options.consCores == 64 and options.maxMemory == 512000 * 2**20
    assert "--maxCores" not in argv  # the login node's 4 cores say nothing about the nodes
    assert plan["slurm"]["defaulted"] == [
        "partition (the cluster's default)", "time (the partition's limit)", "maxJobs",
        "maxMemory (a node's memory)", "consCores (a node's CPUs)"]
    line = plan["summary"].splitlines()[2]
    assert line.startswith("Slurm: partition batch, time 1-00:00:00 per job, maxJobs 1000, --doubleMem true; "
                           "defaults used: partition (the cluster's default), time (the partition's limit)")
    assert f"--comment=cactus-run:{HOST_RUN_DIR}" in line and f"{HOST_RUN_DIR}/batch-logs" in line


def test_slurm_settings_win_over_the_partition_facts():
    plan = host_plan_for([BIRD, BIRD], batch_system="slurm", slurm_facts=SLURM_FACTS, slurm_partition="long",
                         slurm_time="2-00:00:00", max_jobs=200, cons_cores=16, max_memory="100G",
                         slurm_args="--account=lab --nice=100")
    options = check_host_cactus_argv_with_toil(plan["cactus_argv"])
    assert (options.slurm_partition, options.slurm_time, options.max_jobs) == ("long", 2 * 86400, 200)
    assert (options.consCores, options.maxMemory) == (16, 100 * 10**9)
    assert options.slurm_args == f"--comment=cactus-run:{HOST_RUN_DIR} --account=lab --nice=100"
    assert plan["slurm"]["defaulted"] == []
    assert check_host_cactus_argv_with_toil(plan["cactus_restart_argv"]).restart is True


def test_an_unlimited_partition_gets_no_slurm_time():
    facts = dict(SLURM_FACTS, time_limit="infinite")
    plan = host_plan_for([BIRD, BIRD], batch_system="slurm", slurm_facts=facts)
    assert "--slurmTime" not in plan["cactus_argv"]


@pytest.mark.parametrize("settings,variable,fragment", [
    (dict(slurm_time="soon"), "cactus_slurm_time", "'soon' is not a Slurm time limit"),
    (dict(max_jobs=0), "cactus_max_jobs", "not a whole number >= 1"),
    (dict(slurm_args="--comment=mine"), "cactus_slurm_args", "'--comment=mine' would replace"),
    (dict(slurm_args="-J x"), "cactus_slurm_args", "'-J' would replace"),
    (dict(slurm_args="--partition=long"), "cactus_slurm_args", "set cactus_slurm_partition instead"),
    (dict(slurm_args="-t 5"), "cactus_slurm_args", "set cactus_slurm_time instead"),
    (dict(slurm_args="--mem=4G"), "cactus_slurm_args", "Toil refuses it"),
    (dict(slurm_args="-c4"), "cactus_slurm_args", "Toil refuses it"),
    (dict(extra_options=["--slurmTime", "1:00:00"]), "cactus_extra_options", "set cactus_slurm_time"),
    (dict(extra_options=["--slurmArgs=--nice"]), "cactus_extra_options", "set cactus_slurm_args"),
    (dict(extra_options=["--doubleMem", "false"]), "cactus_extra_options", "always true on Slurm"),
    (dict(extra_options=["--batchLogs", "x"]), "cactus_extra_options", "batch_logs_dir"),
])
def test_bad_slurm_settings_name_the_variable(settings, variable, fragment):
    with pytest.raises(PlanError) as caught:
        host_plan_for([BIRD, BIRD], batch_system="slurm", slurm_facts=SLURM_FACTS, **settings)
    assert caught.value.variable == variable and fragment in str(caught.value)


# ---- Names Toil and the shell read literally --------------------------------------------------------

def test_leader_names_are_read_literally_and_stay_apart():
    """Cactus makes file:// URLs of local paths and Toil unquotes them: '?', '#' and '%41' are made safe;
    'pct%41.fa' and 'pctA.fa' stay two files; the extension is kept."""
    text = ("((q,h),(p,a));\nq in/q?x.fa\nh in/h#x.fa.gz\np in/pct%41.fa\na in/pctA.fa\n")
    seqfile = parse_seqfile_text(text, "/d/seq.txt")
    settings = PlanSettings(cluster_name="cx", zone=ZONE, key_pair_name="k", output="/tmp/my out#1.hal",
                            leader_run_dir="/opt/run")
    plan = build_plan(seqfile, {}, settings)
    paths = {g["name"]: g["leader_path"] for g in plan["genomes"]}
    assert paths == {"q": "/opt/run/genomes/q/q_x.fa", "h": "/opt/run/genomes/h/h_x.fa.gz",
                     "p": "/opt/run/genomes/p/pct_41.fa", "a": "/opt/run/genomes/a/pctA.fa"}
    assert plan["leader_output"] == "/opt/run/my_out_1.hal"
    assert [g["resolved"] for g in plan["genomes"]][0] == "/d/in/q?x.fa"  # the controller's file as it is


def test_genome_names_that_collide_once_made_safe_get_folders_of_their_own():
    seqfile = parse_seqfile_text("(a?b:1,a#b:1);\na?b x.fa\na#b y.fa\n", "/d/seq.txt")
    plan = build_plan(seqfile, {}, PlanSettings(cluster_name="cx", zone=ZONE, key_pair_name="k",
                                                output="s3://b/o.hal", leader_run_dir="/opt/run"))
    assert [g["leader_path"] for g in plan["genomes"]] == ["/opt/run/genomes/a_b/x.fa",
                                                          "/opt/run/genomes/a_b-3/y.fa"]


@pytest.mark.parametrize("run_dir", ["/home/a b/cactus/runs/r", "/opt/cactus/runs/r#1", "/opt/c%41/runs/r"])
def test_a_run_directory_toil_would_misread_is_refused(run_dir):
    settings = PlanSettings(cluster_name="cx", zone=ZONE, key_pair_name="k", output="s3://b/o.hal",
                            leader_run_dir=run_dir)
    with pytest.raises(PlanError, match="^cactus_leader_dir: the run directory .* Toil misreads"):
        build_plan(caterpillar_seqfile(2), {}, settings)


@pytest.mark.parametrize("output", ["s3://b/o?.hal", "s3://b/o#1.hal"])
def test_s3_output_keys_toil_would_cut_are_refused(output):
    with pytest.raises(PlanError, match="^cactus_output: .* holds '\\?' or '#'"):
        output_kind(output)


def test_files_of_a_directory_genome_must_have_shell_safe_names(tmp_path, write_fasta):
    write_fasta(str(tmp_path / "g" / "chr1.fa"), size=300)
    write_fasta(str(tmp_path / "g" / "chr 2;x.fa"), size=200)
    with pytest.raises(cactus_measure.MeasureError, match="file name 'chr 2;x.fa' in directory .* shell"):
        cactus_measure.measure_local(local_genome(tmp_path / "seq.txt", "g"))


def test_local_output_must_be_a_writable_file_path(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "afile").write_text("x")
    cactus_measure.check_local_output(str(tmp_path / "results" / "new" / "out.hal"))  # fetch makes "new"
    with pytest.raises(PlanError, match="^cactus_output: .* is a directory.*Fix: give the file to write"):
        cactus_measure.check_local_output(str(tmp_path / "results"))
    with pytest.raises(PlanError, match="^cactus_output: .*afile' is not a directory"):
        cactus_measure.check_local_output(str(tmp_path / "afile" / "out.hal"))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    if not os.access(locked, os.W_OK):  # root may write anywhere
        with pytest.raises(PlanError, match="^cactus_output: directory .*locked' cannot be written"):
            cactus_measure.check_local_output(str(locked / "out.hal"))
