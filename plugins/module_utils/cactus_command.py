# The command lines of a run: `toil launch-cluster` and `cactus` (on a cluster or a host), and the
# checks of cactus_extra_options against what the plan writes and what the pinned Cactus accepts.

from __future__ import annotations

import shlex
from difflib import get_close_matches
from functools import lru_cache

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import (
    DEFAULT_HOST_BATCH_SYSTEM,
    DEFAULT_RETRY_COUNT,
    VARS,
)
from ansible_collections.genomics.cactus.plugins.module_utils.option_walk import walk_options
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

# --nodeTypes is an "extend" option in Toil: a second copy would add node types, not replace them.
PLANNED_OPTIONS = {
    "--batchSystem": "toil_cluster_type", "--provisioner": "toil_cluster_type",
    "--nodeTypes": "toil_node_types", "--minNodes": "toil_min_nodes", "--maxNodes": "toil_max_nodes",
    "--nodeStorage": "toil_node_storage", "--binariesMode": "toil_cluster_type",
    "--consCores": "cactus_cons_cores", "--logFile": "the plan's log_file",
    "--defaultPreemptable": "toil_node_types (a ':bid' makes it)",
    "--defaultPreemptible": "toil_node_types (a ':bid' makes it)",
    "--restart": "the plan's cactus_restart_argv",
    "--gpu": VARS["gpu"],
}
SHORT_PLANNED_OPTIONS = {"-p": "toil_cluster_type"}
# On a host: the options the host plan writes, and the cluster options that mean nothing there.
# --binariesMode stays allowed (the release's local binaries are the default on a host).
HOST_PLANNED_OPTIONS = {
    "--batchSystem": VARS["batch_system"], "--maxCores": VARS["max_cores"],
    "--maxMemory": VARS["max_memory"], "--consCores": VARS["cons_cores"],
    "--logFile": "the plan's log_file", "--restart": "the plan's cactus_restart_argv",
    "--gpu": VARS["gpu"],
}
# On a Slurm login node, also what the plan writes from Cactus's advice (doc/progressive.md, "Running
# on a cluster"); --slurmArgs carries the run's job comment, the user's own sbatch flags go through
# cactus_slurm_args.
SLURM_PLANNED_OPTIONS = {
    "--slurmPartition": VARS["slurm_partition"], "--slurmTime": VARS["slurm_time"],
    "--slurmArgs": VARS["slurm_args"], "--maxJobs": VARS["max_jobs"],
    "--batchLogsDir": "the plan's batch_logs_dir", "--doubleMem": "the plan (always true on Slurm)",
}
# sbatch flags cactus_slurm_args may not carry: (problem, fix). Toil 9.4.1 itself refuses the cores and
# memory ones when it submits, on the login node, after the run started.
_RUN_TAG = ("would replace the name or comment this project finds the run's jobs by", "leave it out")
_TOIL_SETS = ("conflicts with the cores and memory Toil asks for each job (Toil refuses it)", "leave it out")
SBATCH_REFUSED = {
    "--comment": _RUN_TAG, "-J": _RUN_TAG, "--job-name": _RUN_TAG,
    "-p": ("is set by the plan", "set cactus_slurm_partition instead"),
    "--partition": ("is set by the plan", "set cactus_slurm_partition instead"),
    "-t": ("is set by the plan", "set cactus_slurm_time instead"),
    "--time": ("is set by the plan", "set cactus_slurm_time instead"),
    **{o: _TOIL_SETS for o in ("--mem", "--mem-per-cpu", "--mem-per-gpu", "-c", "--cpus-per-task",
                               "--cpus-per-gpu")},
}
HOST_CLUSTER_OPTIONS = ("--provisioner", "--nodeTypes", "--minNodes", "--maxNodes", "--nodeStorage")
SHORT_HOST_CLUSTER_OPTIONS = {"-p": "--provisioner"}
NO_CLUSTER_FIX = "a run on an inventory host has no cluster to scale"


def normalize_extra_options(extra):
    """A list of strings, or one string split the way a shell would."""
    if extra is None:
        return []
    if isinstance(extra, str):
        return shlex.split(extra)
    return [str(item) for item in extra]


def _refused_options(mode):
    """({long option: (problem, fix)}, {short option: (problem, fix)}) for a plan of this mode."""
    planned = "is set by the plan"
    if mode in ("host", "slurm"):
        options = {**HOST_PLANNED_OPTIONS, **(SLURM_PLANNED_OPTIONS if mode == "slurm" else {})}
        long = {o: (planned, f"set {v} instead") for o, v in options.items()}
        long.update({o: ("scales a Toil cluster", NO_CLUSTER_FIX) for o in HOST_CLUSTER_OPTIONS})
        short = {o: (f"is {full}, which scales a Toil cluster", NO_CLUSTER_FIX)
                 for o, full in SHORT_HOST_CLUSTER_OPTIONS.items()}
        return long, short
    return ({o: (planned, f"set {v} instead") for o, v in PLANNED_OPTIONS.items()},
            {o: (planned, f"set {v} instead") for o, v in SHORT_PLANNED_OPTIONS.items()})


def check_extra_options(extra, cons_cores, mode="aws"):
    """Refuse options the plan already writes, or that mean nothing in this mode ("aws", "host" or
    "slurm", a host run on a Slurm login node);
    argparse also takes any unambiguous prefix, so prefixes are refused too."""
    refused, short_refused = _refused_options(mode)
    for index, token in enumerate(extra):
        name = token.split("=", 1)[0]
        if name in short_refused:
            _refuse_option(token, *short_refused[name])
        if name.startswith("--") and len(name) > 2:
            for option, (problem, fix) in refused.items():
                if option.startswith(name):
                    _refuse_option(token, problem, fix)
        if name == "--metrics":
            _check_metrics_value(token, extra[index + 1:index + 2])
        if name == "--maxCores" and cons_cores is not None:
            _check_max_cores(token, extra[index + 1:index + 2], cons_cores)
    check_extra_option_names(extra)


def _refuse_option(token, problem, fix):
    raise CactusError(VARS["extra_options"], f"'{token}' {problem}", fix)


@lru_cache(maxsize=1)
def toil_option_table():
    """{option string: (nargs, choices)} of Toil's workflow parser, which Cactus's programs build on."""
    from toil.job import Job

    table = {}
    for action in Job.Runner.getDefaultArgumentParser()._actions:
        for option in action.option_strings:
            table[option] = (action.nargs, action.choices)
    return table


@lru_cache(maxsize=1)
def cactus_option_table():
    """{option string: (nargs, choices)} of the pinned Cactus's `cactus` parser: Toil's workflow
    options from Toil's own parser (the one Cactus builds on), and Cactus's own from the data in
    cactus_options (read from its release's source)."""
    from ansible_collections.genomics.cactus.plugins.module_utils.cactus_options import CACTUS_OPTIONS

    table = dict(toil_option_table())
    for option, spec in CACTUS_OPTIONS.items():
        table[option] = (spec["nargs"], spec.get("choices"))
    return table


def check_extra_option_names(extra):
    """Every token of `extra` is an option of the pinned Cactus (or an unambiguous prefix of one, which
    argparse accepts) or that option's value: what cactus would refuse on the leader fails here."""
    return walk_options(list(extra), cactus_option_table(), VARS["extra_options"], cactus_program(),
                        unknown_cactus_option)


def cactus_program():
    from ansible_collections.genomics.cactus.plugins.module_utils.cactus_options import CACTUS_OPTIONS_VERSION

    return f"cactus {CACTUS_OPTIONS_VERSION}"


def unknown_cactus_option(name):
    """Refuse `name`, which neither Cactus nor Toil knows, with the closest option if there is one."""
    table = cactus_option_table()
    candidates = [o for o in table if o.startswith("--")] if name.startswith("--") else list(table)
    close = get_close_matches(name, sorted(candidates), 1, 0.6)
    fix = f"did you mean {close[0]}?" if close else "see cactus --help of that release"
    raise CactusError(VARS["extra_options"], f"'{name}' is not an option of {cactus_program()} (its own "
                      "options and Toil 9.4.1's)", fix)


def _check_metrics_value(token, following):
    value = token.split("=", 1)[1] if "=" in token else (following[0] if following else "")
    if value.lower() not in ("true", "false", "yes", "no", "1", "0", "y", "n", "on", "off", "t", "f"):
        raise CactusError(VARS["extra_options"], f"--metrics takes a boolean since Toil 6, got '{value}' "
                          "(the seed guide's '--metrics <jobStore>' swallows the job store)",
                          "drop --metrics, or write --metrics true")


def _check_max_cores(token, following, cons_cores):
    value = token.split("=", 1)[1] if "=" in token else (following[0] if following else "")
    if value.isdigit() and cons_cores > int(value):
        raise CactusError(VARS["cons_cores"], f"{cons_cores} is above --maxCores {value} "
                          "(Cactus: '--consCores must be <= --maxCores')", "lower it or raise --maxCores")


# ---- Command lines ------------------------------------------------------------------------------

def launch_cluster_argv(*, cluster_name, zone, key_pair_name, leader_node_type, leader_storage,
                        cluster_type, owner, tags, node_types=(), min_nodes=(), max_nodes=(),
                        node_storage=None, extra=()):
    """`toil launch-cluster` for this run (option names as in toil/utils/toilLaunchCluster.py 9.4.1).

    `tags`: every --tag (the user's and the run's marker; Owner goes in --owner). `extra`: more
    options (governed_launch_options). Kubernetes gets its workers here (auto-scaling groups with
    ranges min-max); Mesos gets none: its autoscaling is on the cactus command.
    """
    argv = ["toil", "launch-cluster", cluster_name, "--provisioner", "aws", "--zone", zone,
            "--keyPairName", key_pair_name, "--leaderNodeType", leader_node_type,
            "--leaderStorage", str(leader_storage), "--clusterType", cluster_type, "--owner", owner]
    for key, value in tags.items():
        argv += ["--tag", f"{key}={value}"]
    argv += list(extra)
    if cluster_type == "kubernetes":
        ranges = ",".join(f"{low}-{high}" for low, high in zip(min_nodes, max_nodes, strict=True))
        argv += ["--nodeTypes", ",".join(node_types), "--workers", ranges,
                 "--nodeStorage", str(node_storage)]
    return argv


def cactus_argv(*, jobstore, seqfile, output, cluster_type, node_types, min_nodes, max_nodes,
                node_storage, cons_cores, log_file, retry_count=DEFAULT_RETRY_COUNT,
                extra_options=(), restart=False, gpu=0):
    """The cactus command for the leader: job store FIRST, then seqFile and output.

    Never `--metrics <jobstore>` (a boolean since Toil 6). `--defaultPreemptable` whenever a node
    type has a bid: Mesos only offers spot nodes to preemptible jobs, and Toil's Kubernetes batch
    system keeps non-preemptible pods off nodes labelled capacityType=SPOT.
    """
    argv = ["cactus", jobstore, seqfile, output]
    if cluster_type == "kubernetes":
        argv += ["--batchSystem", "kubernetes", "--binariesMode", "singularity"]
    else:
        argv += ["--provisioner", "aws", "--batchSystem", "mesos", "--nodeTypes", ",".join(node_types),
                 "--minNodes", ",".join(map(str, min_nodes)), "--maxNodes", ",".join(map(str, max_nodes)),
                 "--nodeStorage", str(node_storage), "--binariesMode", "docker"]
    if any(":" in node_type for node_type in node_types):
        argv.append("--defaultPreemptable")
    argv += ["--consCores", str(cons_cores), "--retryCount", str(retry_count), "--logFile", log_file]
    if gpu:  # an exact count: Cactus needs one off single_machine (cactus_gpu)
        argv += ["--gpu", str(gpu)]
    argv += list(extra_options)
    if restart:
        argv.append("--restart")
    return argv


def host_cactus_argv(*, jobstore, seqfile, output, batch_system, max_cores, max_memory, cons_cores,
                     log_file, retry_count=DEFAULT_RETRY_COUNT, extra_options=(), restart=False, slurm=None,
                     gpu=0):
    """The cactus command for a host run: a file job store, no provisioner, no node types.

    --maxCores/--maxMemory/--consCores only when given (single_machine: Cactus then takes the
    host's cores). --retryCount only off single_machine, where Cactus itself keeps Toil's default.
    slurm (a Slurm login node): the plan's "slurm" dict, written as Cactus advises.
    """
    argv = ["cactus", jobstore, seqfile, output, "--batchSystem", batch_system]
    limits = (("--maxCores", max_cores), ("--maxMemory", max_memory), ("--consCores", cons_cores))
    for option, value in limits:
        if value is not None:
            argv += [option, str(value)]
    if batch_system != DEFAULT_HOST_BATCH_SYSTEM:
        argv += ["--retryCount", str(retry_count)]
    argv += ["--logFile", log_file]
    if slurm:
        argv += _slurm_options(slurm)
    if gpu:
        argv += ["--gpu", str(gpu)]
    argv += list(extra_options)
    if restart:
        argv.append("--restart")
    return argv


def _slurm_options(slurm):
    argv = []
    if slurm["partition"]:
        argv += ["--slurmPartition", slurm["partition"]]
    if slurm["time"]:
        argv += ["--slurmTime", slurm["time"]]
    sbatch_args = " ".join([f"--comment={slurm['comment']}", *filter(None, [slurm["sbatch_args"]])])
    return argv + ["--batchLogsDir", slurm["batch_logs_dir"], "--doubleMem", "true",
                   "--maxJobs", str(slurm["max_jobs"]),
                   # One token: argparse takes a separate value that starts with "--" for an option.
                   f"--slurmArgs={sbatch_args}"]


def launch_cluster_environment(zone, governed):
    """Environment of launch-cluster: the zone, and the pinned images of a governed account."""
    # launch-cluster checks instance types in the region of TOIL_AWS_ZONE (default us-east-1),
    # not of --zone; this also keeps it from probing the EC2 metadata address.
    environment = {"TOIL_AWS_ZONE": zone}
    if governed["aws_ami"]:
        environment["TOIL_AWS_AMI"] = governed["aws_ami"]
    if governed["appliance_image"]:
        environment["TOIL_APPLIANCE_SELF"] = governed["appliance_image"]
    return environment
