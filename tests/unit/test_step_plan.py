"""The prepare_toil workflow: which workflow runs where, instance facts from EC2, each step sized and
placed on a node type that holds it, the cactus-prepare-toil command (checked with Toil's parser and
the stand-in's v3.2.1 rules), and where cactus_extra_options go.

Instance facts come from moto's DescribeInstanceTypes (in-process, no network): the same answer the
test cloud's moto server gives.
"""

import copy
import sys
from pathlib import Path

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_command import cactus_option_table
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_plan import PlanError
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_prepare_toil import (
    NESTED_COMMON_OPTIONS,
    PREPARE_TOIL_OPTIONS,
    resolve_workflow,
    route_extra_options,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_steps import (
    CORE_HEADROOM,
    GIB,
    node_room,
    size_steps,
)
from ansible_collections.genomics.cactus.plugins.module_utils.instance_facts import (
    describe_instance_types,
    toil_table_facts,
)
from test_plan import BIRD, MAMMAL, NEMATODE, SMALL, ZONE, check_cactus_argv_with_toil, plan_for

STANDIN_SRC = Path(__file__).resolve().parents[1] / "standin" / "cactus" / "src"
TYPES = ["m5.12xlarge", "r5.24xlarge", "c4.8xlarge", "r3.8xlarge", "g5.12xlarge", "g4dn.12xlarge", "m5.large"]


def standin_prepare_toil():
    if str(STANDIN_SRC) not in sys.path:
        sys.path.insert(0, str(STANDIN_SRC))
    from cactus_standin import prepare_toil

    return prepare_toil


@pytest.fixture(scope="module")
def facts():
    """DescribeInstanceTypes as moto answers it (the emulator of the test cloud)."""
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-west-2",
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            return describe_instance_types("us-west-2", TYPES + ["no.such"])


def prepare_plan(sizes, facts, **overrides):
    settings = dict(workflow="auto", cluster_type="kubernetes", instance_facts=facts)
    settings.update(overrides)
    return plan_for(sizes, **settings)


def check_prepare_toil_argv(argv):
    """Parse as v3.2.1's cactus_prepare.main(toil_mode=True), load into Toil's Config, apply its rules."""
    from toil.common import Config

    standin = standin_prepare_toil()
    assert argv[0] == "cactus-prepare-toil"
    options = standin.make_parser().parse_args(argv[1:])
    Config().setOptions(copy.deepcopy(options))
    standin.check_rules(options)
    return options


# ---- Instance facts -------------------------------------------------------------------------------


def test_facts_come_from_describe_instance_types(facts):
    assert facts["m5.12xlarge"]["vcpus"] == 48 and facts["m5.12xlarge"]["memory"] == 192 * GIB
    assert facts["r5.24xlarge"]["vcpus"] == 96 and facts["r5.24xlarge"]["memory"] == 768 * GIB
    assert facts["g5.12xlarge"]["gpus"] == 4 and facts["g5.12xlarge"]["gpu_name"] == "A10G"
    assert facts["m5.12xlarge"]["gpus"] == 0
    assert "no.such" not in facts
    assert {f["source"] for f in facts.values()} == {"DescribeInstanceTypes"}


def test_toils_table_is_the_offline_fallback():
    table = toil_table_facts(["r5.24xlarge", "no.such"])
    assert table == {
        "r5.24xlarge": {
            "vcpus": 96,
            "memory": 768 * GIB,
            "gpus": 0,
            "gpu_memory": 0,
            "gpu_name": None,
            "architectures": ["amd64"],
            "source": "Toil's instance table",
        }
    }


# ---- Which workflow ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "requested,cluster_type,host,expected",
    [
        ("auto", "kubernetes", None, "prepare_toil"),
        ("auto", "mesos", None, "progressive"),
        (None, "kubernetes", None, "prepare_toil"),
        ("progressive", "kubernetes", None, "progressive"),
        ("prepare_toil", "kubernetes", None, "prepare_toil"),
        ("auto", None, "single_machine", "progressive"),
        ("auto", None, "slurm", "progressive"),
    ],
)
def test_auto_picks_prepare_toil_on_kubernetes_only(requested, cluster_type, host, expected):
    workflow, why = resolve_workflow(requested, cluster_type, host)
    assert workflow == expected and why


@pytest.mark.parametrize(
    "requested,cluster_type,host",
    [
        ("prepare_toil", "mesos", None),
        ("prepare_toil", None, "slurm"),
        ("toil", "kubernetes", None),
    ],
)
def test_workflows_that_cannot_run_are_refused_naming_the_variable(requested, cluster_type, host):
    with pytest.raises(PlanError) as caught:
        resolve_workflow(requested, cluster_type, host)
    assert caught.value.variable == "cactus_workflow"


# ---- Mammal, bird and nematode sets on both cluster types -------------------------------------------

SETS = {"mammal": [MAMMAL] * 4, "bird": [BIRD] * 6, "nematode": [NEMATODE] * 10}


@pytest.mark.parametrize("name", list(SETS))
def test_kubernetes_runs_prepare_toil_with_every_step_fitting_its_node(name, facts):
    plan = prepare_plan(SETS[name], facts)
    assert plan["workflow"] == "prepare_toil" and "Kubernetes" in plan["workflow_why"]
    assert "workflow prepare_toil" in plan["summary"] and "cactus-prepare-toil" in plan["summary"]
    assert plan["node_types"] == ["m5.12xlarge:2.304", "r5.24xlarge"]
    assert plan["cons_cores"] is None
    for step, request in plan["steps"].items():
        node = plan["steps"][step]["node_type"].split(":")[0]
        cores, memory, disk = node_room(facts[node], "kubernetes", plan["node_storage"])
        assert request["cores"] <= cores and request["memory"] <= memory and request["disk"] <= disk, step
        assert facts[node]["vcpus"] - request["cores"] >= CORE_HEADROOM["kubernetes"]
    options = check_prepare_toil_argv(plan["cactus_argv"])
    assert options.jobStore == plan["jobstore"] and options.seqFile == plan["leader_seqfile"]
    assert options.outHal == plan["hal"]["url"] == "s3://bucket/out.hal"
    assert options.batchSystem == "kubernetes" and options.binariesMode == "singularity"
    assert options.retryCount == 5 and options.defaultPreemptible is True
    assert options.logFile == plan["log_file"] and options.provisioner is None
    assert (
        options.cactusOptions.strip() == "--binariesMode local"
    )  # v3.2.1: the steps run inside the container
    # What Toil is asked for, job by job, as v3.2.1 builds the jobs (the stand-in's record): the plan's sizes.
    asked = standin_prepare_toil().requests(options)
    for step, (cores, memory, disk) in asked.items():
        assert (cores, memory, disk) == tuple(plan["steps"][step][k] for k in ("cores", "memory", "disk")), (
            step
        )


def test_the_maintainers_mammal_settings_are_the_anchor(facts):
    steps = prepare_plan(SETS["mammal"] * 25, facts)["steps"]  # 100 mammals
    assert (steps["preprocess"]["cores"], steps["preprocess"]["memory"], steps["preprocess"]["disk"]) == (
        32,
        120 * GIB,
        375 * GIB,
    )
    assert (steps["blast"]["cores"], steps["blast"]["memory"]) == (32, 120 * GIB)
    assert (steps["align"]["cores"], steps["align"]["memory"]) == (64, 416 * GIB)
    assert steps["halAppend"]["disk"] == 3000 * GIB and steps["halAppend"]["node_type"] == "r5.24xlarge"
    assert steps["align"]["node_type"] == "r5.24xlarge" and steps["blast"]["node_type"] == "m5.12xlarge:2.304"


def test_smaller_genomes_and_fewer_genomes_ask_for_less():
    mammal, bird, nematode, small = (size_steps(c, 10) for c in ("mammal", "bird", "nematode", "small"))
    for step in ("preprocess", "blast", "align", "halAppend"):
        for key in ("cores", "memory", "disk"):
            assert mammal[step][key] >= bird[step][key] >= nematode[step][key] >= small[step][key]
    assert (
        bird["align"]["cores"] == 32 and bird["align"]["memory"] == 208 * GIB
    )  # the maintainers' short-branch row
    assert size_steps("mammal", 4)["halAppend"]["disk"] < size_steps("mammal", 40)["halAppend"]["disk"]
    assert size_steps("unknown", 3) == size_steps("mammal", 3)


@pytest.mark.parametrize("name", list(SETS))
def test_mesos_keeps_cactus_itself(name, facts):
    plan = prepare_plan(SETS[name], facts, cluster_type="mesos")
    assert plan["workflow"] == "progressive" and "Mesos" in plan["workflow_why"]
    assert "steps" not in plan and plan["node_types"] == ["c4.8xlarge:1.591", "r3.8xlarge"]
    options = check_cactus_argv_with_toil(plan["cactus_argv"])
    assert options.batchSystem == "mesos" and options.provisioner == "aws"
    assert "workflow progressive" in plan["summary"]


def test_counts_follow_how_many_steps_run_at_once(facts):
    plan = prepare_plan([MAMMAL] * 6, facts)
    assert plan["max_nodes"] == [6, 3] and plan["min_nodes"] == [0, 0]
    small = prepare_plan([SMALL] * 3, facts)
    assert small["max_nodes"] == [3, 0]  # every step fits the smaller type


def test_worker_disk_holds_the_largest_step():
    plan = plan_for([MAMMAL] * 4, workflow="prepare_toil")
    assert plan["node_storage"] == 375 + 50
    assert plan["steps"]["halAppend"]["disk"] <= (plan["node_storage"] - 50) * GIB


def test_offline_plans_say_their_facts_come_from_toils_table():
    plan = plan_for([BIRD] * 2, workflow="prepare_toil")
    assert "steps (Toil's instance table)" in plan["summary"]


# ---- Refusals ---------------------------------------------------------------------------------------


def test_the_seeds_c4_8xlarge_cannot_hold_a_mammal_blast(facts):
    with pytest.raises(PlanError) as caught:
        prepare_plan([MAMMAL] * 2, facts, node_types=["c4.8xlarge:0.6", "r3.8xlarge"])
    assert caught.value.variable == "toil_node_types"
    assert "preprocess" in str(caught.value) and "120 GiB" in str(caught.value)


def test_a_64_core_align_needs_more_than_64_vcpus_on_kubernetes(facts):
    with pytest.raises(PlanError) as caught:
        prepare_plan([MAMMAL] * 2, facts, node_types=["m5.12xlarge:0.6", "r5.16xlarge"])
    assert caught.value.variable == "toil_node_types" and "align" in str(caught.value)


def test_too_little_worker_disk_names_its_variable(facts):
    with pytest.raises(PlanError) as caught:
        prepare_plan([MAMMAL] * 4, facts, node_storage=200)
    assert caught.value.variable == "toil_node_storage" and "425" in caught.value.fix


def test_a_node_type_switched_off_holds_no_step(facts):
    with pytest.raises(PlanError) as caught:
        prepare_plan([MAMMAL] * 2, facts, max_nodes=[4, 0])
    assert caught.value.variable == "toil_node_types" and "align" in str(caught.value)


# ---- cactus_extra_options ---------------------------------------------------------------------------


def test_options_prepare_toil_takes_go_on_its_command_line(facts):
    plan = prepare_plan(
        [BIRD] * 2, facts, extra_options=["--maskMode", "red", "--logDebug", "--targetTime", "1"]
    )
    options = check_prepare_toil_argv(plan["cactus_argv"])
    assert options.maskMode == "red" and options.targetTime == 1
    assert plan["extra_options_routes"] == [
        {"option": "--maskMode", "to": "cactus-prepare-toil"},
        {"option": "--logDebug", "to": "cactus-prepare-toil"},
        {"option": "--targetTime", "to": "cactus-prepare-toil"},
    ]
    assert "--maskMode -> cactus-prepare-toil" in plan["summary"]


@pytest.mark.parametrize(
    "extra,fragment",
    [
        (["--consCores", "8"], "do not all take it"),  # cactus-align only
        (["--root", "g0"], "do not all take it"),
        (["--preprocessCores", "8"], "set by the plan"),
        (["--binariesMode", "docker"], "set by the plan"),
        (["--cactusOptions", "--logDebug"], "set by the plan"),
        (["--gpuType", "nvidia-tesla-t4"], "only for --wdl"),
        (["--preprocessOnly"], "asserted off"),
        (["--noSuchOption"], "not an option"),
    (["--rooot", "mr"], "'--rooot' is not an option of cactus v3.2.1"),
    (["--metrics", "aws:us-west-2:js"], "--metrics takes a boolean since Toil 6"),
    ],
)
def test_other_options_are_refused_naming_the_variable(extra, fragment, facts):
    with pytest.raises(PlanError) as caught:
        prepare_plan([BIRD] * 2, facts, extra_options=extra)
    assert caught.value.variable == "cactus_extra_options" and fragment in str(caught.value)


def test_nested_options_go_into_cactus_options_without_spaces():
    table = {**cactus_option_table(), "--nestedOnly": (None, None)}
    saved = NESTED_COMMON_OPTIONS
    try:
        import ansible_collections.genomics.cactus.plugins.module_utils.cactus_prepare_toil as module

        module.NESTED_COMMON_OPTIONS = (*saved, "--nestedOnly")
        top, nested, routes = route_extra_options(["--nestedOnly", "x", "--maskMode", "red"], table)
        assert top == ["--maskMode", "red"] and nested == ["--nestedOnly", "x"]
        assert routes[0] == {"option": "--nestedOnly", "to": "--cactusOptions"}
        with pytest.raises(PlanError, match="space"):
            route_extra_options(["--nestedOnly", "a b"], table)
    finally:
        module.NESTED_COMMON_OPTIONS = saved


def test_the_data_agrees_with_the_standins_v321_parsers():
    standin = standin_prepare_toil()
    from toil.job import Job

    toil_options = {o for a in Job.Runner.getDefaultArgumentParser()._actions for o in a.option_strings}
    own = {o for a in standin.make_parser()._actions for o in a.option_strings} - toil_options
    assert own == set(PREPARE_TOIL_OPTIONS)
    common = set.intersection(*(set(options) for options in standin.STEP_OPTIONS.values()))
    assert common == set(NESTED_COMMON_OPTIONS)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["aws:us-west-2:js", "seq.txt", "--outHal", "/tmp/out.hal"], "must be s3://"),
        (
            [
                "aws:us-west-2:js",
                "seq.txt",
                "--outHal",
                "s3://b/o.hal",
                "--batchSystem",
                "kubernetes",
                "--gpu",
            ],
            "--gpu N required",
        ),
        (
            ["aws:us-west-2:js", "seq.txt", "--outHal", "s3://b/o.hal", "--cactusOptions", "--consCores 2"],
            "unrecognized arguments: --consCores",
        ),
        (
            [
                "aws:us-west-2:js",
                "seq.txt",
                "--outHal",
                "s3://b/o.hal",
                "--cactusOptions",
                "--logDebug  --latest",
            ],
            "unrecognized arguments",
        ),
    ],
)
def test_the_standin_keeps_v321s_rules(argv, message):
    standin = standin_prepare_toil()
    options = standin.make_parser().parse_args(argv)
    with pytest.raises(RuntimeError, match=message):
        standin.check_rules(options)


def test_the_standin_refuses_suspiciously_small_sizes():
    standin = standin_prepare_toil()
    with pytest.raises(RuntimeError, match="Suspiciously small"):  # v3.2.1 raises from the option's type
        standin.make_parser().parse_args(["js", "seq.txt", "--outHal", "o.hal", "--alignMemory", "4000"])


def test_restart_is_the_same_command_with_restart(facts):
    plan = prepare_plan([BIRD] * 3, facts)
    assert plan["cactus_restart_argv"] == plan["cactus_argv"] + ["--restart"]
    assert check_prepare_toil_argv(plan["cactus_restart_argv"]).restart is True


def test_a_local_output_goes_through_a_bucket_of_the_run_in_the_job_stores_region(facts):
    plan = prepare_plan([BIRD] * 2, facts, output="/home/me/birds.hal")
    assert plan["hal"] == {
        "url": "s3://cactus-test-jobstore--hal/birds.hal",
        "bucket": "cactus-test-jobstore--hal",
        "key": "birds.hal",
        "owned": True,
        "region": "us-west-2",
    }
    assert check_prepare_toil_argv(plan["cactus_argv"]).outHal == plan["hal"]["url"]
    assert "kept until the HAL is fetched and verified" in plan["summary"]
    assert ZONE.startswith(plan["hal"]["region"])


@pytest.mark.parametrize("sizes", [[MAMMAL] * 4, [SMALL] * 3])
def test_launch_cluster_gets_the_node_types_and_disk(sizes, facts, monkeypatch):
    from test_plan import run_toil_launch_cluster

    plan = prepare_plan(sizes, facts)
    options, cluster = run_toil_launch_cluster(plan["launch_cluster_argv"], monkeypatch)
    assert options.clusterType == "kubernetes"
    assert cluster.factory_kwargs["nodeStorage"] == plan["node_storage"]
    added = [call["nodeTypes"] for name, call in cluster.calls if name == "addManagedNodes"]
    assert added == [
        {spec.split(":")[0]} for spec, high in zip(plan["node_types"], plan["max_nodes"], strict=True) if high
    ]


def test_status_counts_each_steps_jobs_by_v321s_job_names():
    from ansible_collections.genomics.cactus.plugins.filter.cactus_steps import cactus_step_jobs

    lines = [
        "JOB:'toil_call_preprocess' kind-toil_call_preprocess/instance-1 v3\tREADY_TO_RUN\tTRYS_REMAINING:5",
        "JOB:'toil_call_preprocess' kind-toil_call_preprocess/instance-2 v1\tTRYS_REMAINING:5",
        "JOB:'toil_call_blast' kind-toil_call_blast/instance-3 v1\tCOMPLETELY_FAILED",
        "JOB:'schedule' kind-schedule/instance-4 v2\tCHILD_NUMBER:2",
        "Of the 4 jobs considered, there are 1 completely failed jobs, ...",
    ]
    counts = cactus_step_jobs(lines)
    assert counts["steps"] == {
        "preprocess": {"jobs": 2, "ready": 1, "failed": 0},
        "blast": {"jobs": 1, "ready": 0, "failed": 1},
    }
    assert counts["text"] == "preprocess 2 (1 ready), blast 1 (0 ready, 1 failed)"
    assert cactus_step_jobs([])["text"] == ""
