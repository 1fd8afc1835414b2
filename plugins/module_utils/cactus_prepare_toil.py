# The cactus-prepare-toil workflow (Cactus v3.2.1, src/cactus/progressive/cactus_prepare.py, main_toil):
# which workflow a run uses, the command line, and where each of cactus_extra_options goes.
#
# How cactus-prepare-toil runs (read off v3.2.1): a Toil workflow on Toil's own parser with one job
# per preprocess (per leaf genome), per blast and align (per subtree, align a follow-on of its blast)
# and one halAppendSubtrees job; each job calls the step's Cactus command (cactus-preprocess,
# cactus-blast, cactus-align then cactus-hal2fasta) with single_machine inside its node, its own
# --workDir/--maxCores/--maxDisk/--maxMemory from the job's request, and the --cactusOptions string
# split on single spaces (`options.cactusOptions.strip().split(' ')`). Details the plan relies on:
# - the blast job asks for --preprocessDisk (not --blastDisk); halAppend asks for 1 core and
#   --alignMemory; the --*Preemptible and --*Retries options feed only the WDL output (in Toil mode
#   Toil's --defaultPreemptible and --retryCount apply);
# - unless --cactusOptions names --binariesMode, " --binariesMode local" is added to it (the steps
#   run inside the top level's container);
# - with an AWS job store --outHal must be s3:// (the HAL is written there in the job store's region);
# - --gpu without a number is refused off single_machine; --gpuType only works with --wdl;
#   --preprocessOnly is asserted off; memory and disk below 10,000,000 bytes are refused.

from __future__ import annotations

from functools import lru_cache

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_command import (
    _check_metrics_value,
    toil_option_table,
    unknown_cactus_option,
)
from ansible_collections.genomics.cactus.plugins.module_utils.option_walk import walk_options
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

WORKFLOWS = ("auto", "prepare_toil", "progressive")
EXTRA = "cactus_extra_options"
VARIABLE = "cactus_workflow"
PROGRAM = "cactus-prepare-toil v3.2.1"

# cactus-prepare-toil's own options in Toil mode (main(toil_mode=True) adds them to Toil's parser):
# {option: (nargs, choices)}. nargs as argparse: None = one value, 0 = a flag, "?" = an optional one.
PREPARE_TOIL_OPTIONS = {
    "--latest": (0, None),
    "--containerImage": (None, None),
    "--binariesMode": (None, ("docker", "local", "singularity")),
    "--outDir": (None, None),
    "--outSeqFile": (None, None),
    "--outHal": (None, None),
    "--chromInfo": (None, None),
    "--configFile": (None, None),
    "--preprocessBatchSize": (None, None),
    "--halAppendBatchSize": (None, None),
    "--halOptions": (None, None),
    "--cactusOptions": (None, None),
    "--preprocessOnly": (0, None),
    "--maskMode": (None, ("red", "fastan", "lastz", "none", "default")),
    "--remask": (0, None),
    "--branchScale": (None, None),
    "--dockerImage": (None, None),
    "--gpu": ("?", None),
    "--lastzCores": (None, None),
    "--fastga": (0, None),
    "--gpuType": (None, None),
    "--nvidiaDriver": (None, None),
    "--gpuZone": (None, None),
    "--zone": (None, None),
    "--hdf5Codec": (None, ("deflate", "lz4", "zstd", "none")),
    **{
        f"--{step}{what}": (None, None)
        for step in ("preprocess", "blast", "align")
        for what in ("Cores", "Memory", "Disk")
    },
    "--halAppendDisk": (None, None),
    **{
        f"--{step}{what}": (None, None)
        for step in ("preprocess", "blast", "align", "halAppend")
        for what in ("Preemptible", "Retries")
    },
}
# The Cactus options (beside Toil's, which all of them take) of the commands each job runs with the
# --cactusOptions string: read off v3.2.1's parsers of cactus-preprocess (cactus_preprocessor.py),
# cactus-blast (cactus_blast.py), cactus-align (cactus_align.py) and cactus-hal2fasta
# (cactus_prepare.py, main_hal2fasta). An option goes into --cactusOptions only when all take it.
NESTED_COMMON_OPTIONS = ("--configFile", "--latest", "--containerImage", "--binariesMode")
NESTED_STEPS = "cactus-preprocess, cactus-blast, cactus-align and cactus-hal2fasta"

# What the plan writes on the cactus-prepare-toil command (the variable to set instead).
PLANNED = {
    "--batchSystem": "toil_cluster_type",
    "--provisioner": "toil_cluster_type",
    "--binariesMode": "toil_cluster_type",
    "--outHal": "cactus_output",
    "--logFile": "the plan's log_file",
    "--restart": "the plan's cactus_restart_argv",
    "--cactusOptions": EXTRA + " (the plan routes each option)",
    "--defaultPreemptible": "toil_node_types (a ':bid' makes it)",
    "--defaultPreemptable": "toil_node_types (a ':bid' makes it)",
    "--retryCount": "the plan's retry count",
    "--halAppendDisk": "toil_node_types (the plan sizes every step)",
    **{
        f"--{step}{what}": "toil_node_types (the plan sizes every step)"
        for step in ("preprocess", "blast", "align")
        for what in ("Cores", "Memory", "Disk")
    },
    "--nodeTypes": "toil_node_types",
    "--minNodes": "toil_min_nodes",
    "--maxNodes": "toil_max_nodes",
    "--nodeStorage": "toil_node_storage",
}
# Options v3.2.1's cactus-prepare-toil accepts but stops on (or ignores) in Toil mode.
REFUSED = {
    "--gpuType": "is only for --wdl (cactus-prepare-toil stops: '--gpuType can only be used with --wdl')",
    "--preprocessOnly": "is asserted off in Toil mode (cactus-prepare-toil stops)",
    "--gpu": "would give cactus-blast GPUs that cactus-prepare-toil v3.2.1 asks Toil none for (its blast "
    "job's pod gets no GPU; cactus_gpu says where GPU blast runs)",
}


def resolve_workflow(requested, cluster_type=None, host_batch_system=None):
    """(workflow, why): auto gives prepare_toil on Kubernetes and progressive on Mesos and on hosts."""
    if requested in (None, ""):
        requested = "auto"
    if requested not in WORKFLOWS:
        raise CactusError(VARIABLE, f"{requested!r} is not a workflow", f"use one of: {', '.join(WORKFLOWS)}")
    if host_batch_system is not None:
        if requested == "prepare_toil":
            raise CactusError(
                VARIABLE,
                "prepare_toil on an inventory host is not supported by this project yet "
                "(it runs each step on one node of a cluster)",
                "use progressive (or auto) on a host, or a Kubernetes cluster on AWS",
            )
        return "progressive", (
            "chosen"
            if requested == "progressive"
            else "auto: a host runs cactus itself (Cactus's advice for one machine and Slurm)"
        )
    if requested == "prepare_toil" and cluster_type == "mesos":
        raise CactusError(
            VARIABLE,
            "prepare_toil on a Mesos cluster: this project sizes its steps for "
            "Kubernetes nodes (Cactus's docs pair cactus-prepare-toil with Kubernetes)",
            "use auto or progressive with toil_cluster_type=mesos, or toil_cluster_type=kubernetes",
        )
    if requested != "auto":
        return requested, "chosen"
    if cluster_type == "kubernetes":
        return "prepare_toil", (
            "auto: on Kubernetes Cactus's docs use cactus-prepare-toil (one job per step, "
            "each on one node); cactus itself there 'will swamp the cluster'"
        )
    return "progressive", (
        "auto: on Mesos Cactus's AWS guide runs cactus itself, autoscaling from the workflow"
    )


@lru_cache(maxsize=1)
def top_level_table():
    """{option: (nargs, choices)} of cactus-prepare-toil's parser: Toil 9.4.1's, then its own."""
    table = dict(toil_option_table())
    table.update(PREPARE_TOIL_OPTIONS)
    return table


def route_extra_options(extra, cactus_table):
    """(top-level argv, --cactusOptions tokens, routes) of cactus_extra_options on prepare_toil.

    An option cactus-prepare-toil takes goes on its command line; an option of `cactus` it does not
    take goes into --cactusOptions when every step's command takes it and no value holds a space
    (v3.2.1 splits that string on spaces); anything else is refused. `routes`: [{option, to}].
    """
    top = top_level_table()
    table = {**cactus_table, **top}
    top_argv, nested, routes = [], [], []
    # An option neither program knows is said as for cactus itself (the same message on both workflows).
    for given, option, values in walk_options(list(extra), table, EXTRA, PROGRAM, unknown_cactus_option):
        if option in PLANNED or any(
            p.startswith(given)
            for p in PLANNED
            if given.startswith("--") and len(given) > 2 and given not in top
        ):
            fix = PLANNED.get(option, "the plan")
            raise CactusError(
                EXTRA, f"'{given}' is set by the plan on cactus-prepare-toil", f"set {fix} instead"
            )
        if option in REFUSED:
            raise CactusError(EXTRA, f"'{given}' {REFUSED[option]}", "leave it out")
        if option == "--metrics":  # the seed guide's '--metrics <jobStore>', as for cactus
            _check_metrics_value(option, values)
        tokens = [option, *values]
        if option in top:
            top_argv += tokens
            routes.append({"option": option, "to": "cactus-prepare-toil"})
        elif option in NESTED_COMMON_OPTIONS:
            if any(" " in v or not v for v in values):
                raise CactusError(
                    EXTRA,
                    f"a value of '{option}' holds a space or is empty: cactus-prepare-toil "
                    "splits --cactusOptions on single spaces",
                    "give a value without spaces",
                )
            nested += tokens
            routes.append({"option": option, "to": "--cactusOptions"})
        else:
            raise CactusError(
                EXTRA,
                f"'{option}' is an option of cactus, but cactus-prepare-toil does not take "
                f"it, and it would pass it (in --cactusOptions) to every step: {NESTED_STEPS}, "
                "which do not all take it",
                "leave it out, or set cactus_workflow=progressive",
            )
    return top_argv, nested, routes


def size_text(size_bytes):
    """A size v3.2.1 reads back exactly (Toil's human2bytes): whole GiB, else bytes."""
    gib = 2**30
    return f"{size_bytes // gib}Gi" if size_bytes % gib == 0 else str(size_bytes)


def prepare_toil_argv(
    *,
    jobstore,
    seqfile,
    out_hal,
    batch_system,
    binaries_mode,
    steps,
    preemptible,
    retry_count,
    log_file,
    extra_top=(),
    cactus_options=(),
    restart=False,
):
    """The cactus-prepare-toil command for the leader (v3.2.1 main_toil): job store and seqFile
    positional, the HAL with --outHal, each step's request, Toil's retry count and preemptibility."""
    argv = [
        "cactus-prepare-toil",
        jobstore,
        seqfile,
        "--outHal",
        out_hal,
        "--batchSystem",
        batch_system,
        "--binariesMode",
        binaries_mode,
    ]
    for step in ("preprocess", "blast", "align"):
        request = steps[step]
        argv += [
            f"--{step}Cores",
            str(request["cores"]),
            f"--{step}Memory",
            size_text(request["memory"]),
            f"--{step}Disk",
            size_text(request["disk"]),
        ]
    argv += ["--halAppendDisk", size_text(steps["halAppend"]["disk"])]
    # v3.2.1 reads these only for WDL; written so the command says the plan's intent in every mode.
    for step in ("preprocess", "blast", "align", "halAppend"):
        argv += [f"--{step}Preemptible", str(int(preemptible)), f"--{step}Retries", str(retry_count)]
    if preemptible:
        argv.append("--defaultPreemptible")
    argv += ["--retryCount", str(retry_count), "--logFile", log_file]
    if cactus_options:
        # One token: argparse would read a separate value starting with "--" as an option.
        argv.append("--cactusOptions=" + " ".join(cactus_options))
    argv += list(extra_top)
    if restart:
        argv.append("--restart")
    return argv
