"""GPU blast (cactus_gpu): refused where Cactus v3.2.1 and Toil 9.4.1 give no job a GPU (Mesos,
cactus-prepare-toil, host batch systems other than single_machine and Slurm, local binaries), and on
Kubernetes with progressive a node type with the GPUs (from moto's DescribeInstanceTypes), `--gpu N` on
the command (parsed with Toil's parser and Cactus's options) and a summary line."""

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_plan import PlanError
from test_plan import (
    BIRD,
    check_cactus_argv_with_toil,
    check_host_cactus_argv_with_toil,
    host_plan_for,
    plan_for,
)
from test_step_plan import facts  # noqa: F401 - the moto DescribeInstanceTypes fixture

GPU_TYPES = ["m5.12xlarge:1.2", "g5.12xlarge"]


def gpu_plan(facts, **overrides):  # noqa: F811
    settings = dict(
        cluster_type="kubernetes", workflow="progressive", node_types=GPU_TYPES, gpu=4, instance_facts=facts
    )
    settings.update(overrides)
    return plan_for([BIRD] * 3, **settings)


def refused(variable, fragment, build, *args, **kwargs):
    with pytest.raises(PlanError) as caught:
        build(*args, **kwargs)
    assert caught.value.variable == variable, str(caught.value)
    assert fragment in str(caught.value), str(caught.value)
    return str(caught.value)


def test_kubernetes_progressive_runs_cactus_with_gpu_on_a_gpu_node_type(facts):  # noqa: F811
    plan = gpu_plan(facts)
    argv = plan["cactus_argv"]
    assert argv[argv.index("--gpu") + 1] == "4" and "--gpu" in plan["cactus_restart_argv"]
    assert check_cactus_argv_with_toil(argv).gpu == "4"
    assert plan["gpu"] == {"count": 4, "node_types": ["g5.12xlarge"]}
    assert "GPU blast on: cactus --gpu 4" in plan["summary"] and "on g5.12xlarge" in plan["summary"]
    assert "cactus:v3.2.1-gpu" in plan["summary"]
    assert gpu_plan(facts, gpu=0)["gpu"] is None
    assert "--gpu" not in gpu_plan(facts, gpu=0)["cactus_argv"]


def test_a_node_type_without_enough_gpus_is_refused_naming_toil_node_types(facts):  # noqa: F811
    message = refused("toil_node_types", "needs a node type with 8 GPUs", gpu_plan, facts, gpu=8)
    assert "g5.12xlarge: 4 A10G 22 GiB" in message and "e.g. g5.48xlarge" in message
    refused("toil_node_types", "m5.12xlarge: no GPU", gpu_plan, facts, node_types=["m5.12xlarge:1.2"], gpu=1)
    offline = refused("toil_node_types", "Toil's table, used offline, has none", gpu_plan, None)
    assert "lower cactus_gpu" in refused("toil_node_types", "16 GPUs", gpu_plan, facts, gpu=16)
    assert offline


def test_gpu_is_refused_where_no_job_gets_a_gpu(facts):  # noqa: F811
    mesos = refused(
        "cactus_gpu",
        "Mesos batch system refuses",
        gpu_plan,
        facts,
        cluster_type="mesos",
        node_types=["c4.8xlarge:0.6"],
    )
    assert "toil_cluster_type=kubernetes with cactus_workflow=progressive, or cactus_gpu=0" in mesos
    prepare = refused(
        "cactus_gpu", "asks Toil for no GPU for its blast job", gpu_plan, facts, workflow="auto"
    )
    assert "cactus_workflow=progressive" in prepare
    refused("cactus_gpu", "not a whole number", gpu_plan, facts, gpu=-1)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--gpu", "2"], "set cactus_gpu instead"),
        (["--latest"], "'--latest cannot be used with --gpu'"),
        (["--fastga"], "turns the GPU off"),
    ],
)
def test_extra_options_that_clash_with_gpu_are_refused(facts, extra, fragment):  # noqa: F811
    refused("cactus_extra_options", fragment, gpu_plan, facts, extra_options=extra)


def test_a_host_needs_a_container_binaries_mode_and_a_batch_system_that_gives_gpus():
    local = refused("cactus_extra_options", "binaries mode is local", host_plan_for, [BIRD] * 2, gpu=2)
    assert "'--binariesMode', 'docker'" in local
    refused(
        "cactus_extra_options",
        "binaries mode is local",
        host_plan_for,
        [BIRD] * 2,
        gpu=2,
        extra_options=["--binariesMode", "local"],
    )
    plan = host_plan_for([BIRD] * 2, gpu=2, extra_options=["--binariesMode", "singularity"])
    argv = plan["cactus_argv"]
    assert argv[argv.index("--gpu") + 1] == "2" and plan["gpu"] == {"count": 2, "node_types": None}
    assert check_host_cactus_argv_with_toil(argv).gpu == "2"
    assert "GPU blast on: cactus --gpu 2" in plan["summary"]
    refused(
        "cactus_batch_system",
        "lsf batch system refuses",
        host_plan_for,
        [BIRD] * 2,
        gpu=2,
        batch_system="lsf",
        cons_cores=4,
        extra_options=["--binariesMode", "docker"],
    )
    refused(
        "cactus_extra_options",
        "set cactus_gpu instead",
        host_plan_for,
        [BIRD] * 2,
        extra_options=["--gpu", "1"],
    )


def test_gpu_in_extra_options_on_prepare_toil_says_why(facts):  # noqa: F811
    refused("cactus_extra_options", "asks Toil none for", gpu_plan, facts, workflow="prepare_toil", gpu=0,
            extra_options=["--gpu", "2"], node_types=None)
