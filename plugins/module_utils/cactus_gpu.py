# GPU blast (cactus_gpu): where Cactus v3.2.1's `--gpu N` (KegAlign instead of lastz) can run, read off
# the pinned code:
# - plain `cactus --gpu N` makes its lastz jobs ask Toil for `cuda:N` accelerators
#   (src/cactus/paf/local_alignment.py, preprocessor/lastzRepeatMasking); Toil 9.4.1's Kubernetes,
#   single_machine and Slurm batch systems accept them, Mesos (AbstractBatchSystem's default) refuses any;
# - cactus-prepare-toil (cactus_prepare.py, toil_call_blast) passes --gpu to the nested cactus-blast but
#   adds its blast job with cores, memory and disk only: no GPU is asked for, so none is given;
# - off single_machine an exact count is needed; `--latest` with `--gpu` stops Cactus, `--fastga` turns
#   the GPU off; KegAlign is only in the `-gpu` image, so --binariesMode must be docker or singularity
#   (doc/progressive.md, "GPU Acceleration"). With either, cactus_call itself picks the image
#   quay.io/comparative-genomics-toolkit/cactus:v3.2.1-gpu for a call given GPUs (common.py,
#   getDockerTag(gpu=True)): the plan adds no image option.
# - GPUs need at least 8 GB of memory each (mammal-size input, the same page).

from __future__ import annotations

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import VARS
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

GIB = 2**30
MIN_GPU_MEMORY = 8 * GIB
GPU_IMAGE = "quay.io/comparative-genomics-toolkit/cactus:v3.2.1-gpu"
# An example GPU node type by count (A10G, 24 GB each; Cactus's maintainers tested A10G and V100).
EXAMPLE_TYPES = ((1, "g5.2xlarge"), (4, "g5.12xlarge"), (8, "g5.48xlarge"))


def check_gpu_count(value):
    """cactus_gpu as a whole number >= 0 (0: off)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CactusError(
            VARS["gpu"],
            f"{value!r} is not a whole number of GPUs >= 0",
            "give e.g. 4 (GPUs per blast job), or 0 for lastz on CPUs",
        )
    return value


def check_gpu_workflow(gpu, workflow, cluster_type):
    """Refuse GPU blast where the pinned Cactus and Toil cannot give a job a GPU (before anything exists)."""
    if not gpu:
        return
    if cluster_type == "mesos":
        raise CactusError(
            VARS["gpu"],
            f"{gpu} GPUs on a Mesos cluster: Toil 9.4.1's Mesos batch system refuses "
            "every job that asks for a GPU, and cactus --gpu makes its lastz jobs ask for them",
            "set toil_cluster_type=kubernetes with cactus_workflow=progressive, or cactus_gpu=0",
        )
    if workflow == "prepare_toil":
        raise CactusError(
            VARS["gpu"],
            f"{gpu} GPUs with cactus_workflow=prepare_toil: cactus-prepare-toil v3.2.1 "
            "passes --gpu to cactus-blast but asks Toil for no GPU for its blast job, so the "
            "job's pod would get none",
            "set cactus_workflow=progressive (plain cactus, meant for small sets on Kubernetes), "
            "or cactus_gpu=0",
        )


def check_gpu_extra_options(gpu, groups):
    """`groups`: cactus_extra_options walked (option_walk). Options v3.2.1 stops on, or that switch the
    GPU off, next to --gpu."""
    if not gpu:
        return
    for _given, option, _values in groups:
        if option == "--latest":
            raise CactusError(
                VARS["extra_options"],
                "'--latest' with cactus_gpu: Cactus v3.2.1 stops ('--latest cannot be used with --gpu')",
                "leave --latest out",
            )
        if option == "--fastga":
            raise CactusError(
                VARS["extra_options"],
                "'--fastga' with cactus_gpu: Cactus v3.2.1 then turns "
                "the GPU off, and the GPU nodes would be paid for nothing",
                "leave --fastga out, or set cactus_gpu=0",
            )


def binaries_mode_of(groups, default):
    """The --binariesMode cactus_extra_options give (the last one, as argparse), else `default`."""
    modes = [values[0] for _given, option, values in groups if option == "--binariesMode" and values]
    return modes[-1] if modes else default


# Toil 9.4.1's batch systems of a host that give a job GPUs (the others keep AbstractBatchSystem's refusal).
GPU_HOST_BATCH_SYSTEMS = ("single_machine", "slurm")


def check_gpu_host_batch_system(gpu, batch_system):
    if gpu and batch_system not in GPU_HOST_BATCH_SYSTEMS:
        raise CactusError(
            VARS["batch_system"],
            f"cactus_gpu {gpu} with {batch_system}: Toil 9.4.1's "
            f"{batch_system} batch system refuses every job that asks for a GPU",
            f"use {' or '.join(GPU_HOST_BATCH_SYSTEMS)}, or set cactus_gpu=0",
        )


def check_gpu_binaries_mode(gpu, mode, why_default):
    """KegAlign is only in Cactus's -gpu image: the binaries mode must run it from a container."""
    if gpu and mode not in ("docker", "singularity"):
        raise CactusError(
            VARS["extra_options"],
            f"cactus_gpu {gpu} runs KegAlign, which is only in Cactus's "
            f"-gpu image, and the binaries mode is {mode} ({why_default})",
            "add '--binariesMode', 'docker' (or 'singularity') to cactus_extra_options, or set cactus_gpu=0",
        )


def gpu_node_types(gpu, specs, facts):
    """The node types (Toil specs) whose every instance type has `gpu` GPUs or more, each with at least
    MIN_GPU_MEMORY; `specs`: [(spec, [instance types])]; `facts`: instance_facts by type. Refuses,
    naming toil_node_types, when none has."""
    holding = [
        spec
        for spec, types in specs
        if all(
            facts.get(t, {}).get("gpus", 0) >= gpu and facts.get(t, {}).get("gpu_memory", 0) >= MIN_GPU_MEMORY
            for t in types
        )
    ]
    if holding:
        return holding
    seen = ", ".join(f"{spec} ({_gpu_text(facts, types)})" for spec, types in specs)
    sources = {facts[t]["source"] for _spec, types in specs for t in types if t in facts}
    offline = (
        " (GPU facts come from EC2's DescribeInstanceTypes; Toil's table, used offline, has none)"
        if sources == {"Toil's instance table"}
        else ""
    )
    example = next((name for count, name in EXAMPLE_TYPES if count >= gpu), None)
    raise CactusError(
        VARS["node_types"],
        f"cactus_gpu {gpu} needs a node type with {gpu} GPUs of at least "
        f"8 GiB each, and none of the plan's has: {seen}{offline}",
        f"add one, e.g. {example}" if example else f"lower cactus_gpu: no g5 type has {gpu} GPUs",
    )


def _gpu_text(facts, types):
    parts = []
    for t in types:
        fact = facts.get(t)
        if not fact:
            parts.append(f"{t}: no facts")
        elif not fact.get("gpus"):
            parts.append(f"{t}: no GPU")
        else:
            parts.append(
                f"{t}: {fact['gpus']} {fact.get('gpu_name') or 'GPU'} {fact['gpu_memory'] / GIB:.0f} GiB"
            )
    return ", ".join(parts)


def gpu_line(gpu, where):
    """The plan summary's line about GPU blast."""
    return (
        f"GPU blast on: cactus --gpu {gpu} (KegAlign, {GPU_IMAGE}, which Cactus picks for GPU jobs) {where}"
    )
