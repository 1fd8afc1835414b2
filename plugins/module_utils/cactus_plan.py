# Size a Cactus run and build its Toil command lines: pure functions, no I/O.
#
# Two kinds of plan: "aws" (an autoscaling Toil cluster on AWS, launched by this project) and "host"
# (one machine of the user's inventory: a big server, or the login node of a Slurm/LSF cluster,
# with a file job store in the run directory and no AWS at all).
#
# The only side effect anywhere here is importing Toil (pinned 9.4.1, the version Cactus v3.2.1
# needs), whose own parsers and tables are the authority for node types, instance types and job
# store names. Toil is imported inside the functions that need it, so importing this file is cheap.
#
# Messages name the user variable to change (see VARS) and say how to fix it.

from __future__ import annotations

import json
import math
import os
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from difflib import get_close_matches
from fractions import Fraction
from functools import lru_cache

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_prepare_toil import resolve_workflow
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import (
    CactusError,
    check_cluster_name,
    jobstore_locator,
    names_conflict,
    toil_claims,
    toil_role_name,
    zone_to_region,
)

# Callers name the zone rule after what it gives.
region_of = zone_to_region

# ---- Size classes -------------------------------------------------------------------------------
# Genome sizes are bytes of (uncompressed) FASTA, which is within a few percent of the base count.
# The seed guide gives rough ranges (nematode ~100-300 Mb, bird ~1-2 Gb, mammal ~2-4 Gb) with gaps;
# the boundaries below close the gaps so every size has exactly one class.
MB = 10**6
GB = 10**9
SMALL_MAX_BYTES = 100 * MB  # below: "small", a single machine beats an autoscaling cluster
NEMATODE_MAX_BYTES = 1 * GB  # [100 Mb, 1 Gb): nematode-size
BIRD_MAX_BYTES = 2 * GB  # [1 Gb, 2 Gb): bird-size; 2 Gb and up: mammal-size
SIZE_CLASSES = ("small", "nematode", "bird", "mammal")
UNKNOWN = "unknown"

# ---- The seed guide's sizing table (Cactus doc/running-in-aws.md), per genome ------------------
# (spot c4.8xlarge max, on-demand r3.8xlarge max) for ONE genome of the class: the table's
# (N/2)*20 is 10 per genome, N/2 is 1/2, and so on. Fractions keep the sum exact (0.1 * 10 in
# floats is 1.0000000000000002, which would round up to 2); the sum is rounded up once, at the end.
SEED_PER_GENOME = {
    "mammal": (Fraction(10), Fraction(1, 2)),
    "bird": (Fraction(5), Fraction(1, 4)),
    "nematode": (Fraction(1, 2), Fraction(1, 10)),
}
# Small genomes use the nematode row (the guide has none for them); unknown sizes use the mammal
# row so that the cost ceiling shown is never lower than the real one could be.
SEED_ROW_FOR_CLASS = {"small": "nematode", "nematode": "nematode", "bird": "bird",
                      "mammal": "mammal", UNKNOWN: "mammal"}

# ---- Defaults -----------------------------------------------------------------------------------
DEFAULT_SPOT_TYPE = "c4.8xlarge"  # seed guide: spot, for most jobs
DEFAULT_ON_DEMAND_TYPE = "r3.8xlarge"  # seed guide's table: on-demand, for the database jobs
DEFAULT_SPOT_BID = 0.6  # seed guide, USD per hour
# Non-burstable: a t2 leader runs out of CPU credits in a run that lasts days. 2 vCPU is the
# Kubernetes leader's minimum.
DEFAULT_LEADER_NODE_TYPE = "m5.large"
LEADER_BASE_STORAGE_GB = 50  # Toil's default --leaderStorage: OS, appliance, logs
# Worker disk by the largest class aligned. Toil's default 50 GB is the classic failure (toil
# #2640: 100 fixed a small run); maintainers use 1000-4000 GB for mammals.
NODE_STORAGE_GB = {"small": 100, "nematode": 200, "bird": 500, "mammal": 1000, UNKNOWN: 1000}
DEFAULT_CONS_CORES = 32  # when no worker instance type is in Toil's table
# A Kubernetes pod asking for every vCPU of a node never schedules (system pods request a share).
KUBERNETES_CORE_HEADROOM = 1
# Toil 9.4.1 defaults --retryCount to 1, so Cactus's "retryCount = 5 off single_machine" (which
# only fires when the value is None) never happens: ask for it explicitly.
DEFAULT_RETRY_COUNT = 5
RUN_TAG_KEY = "cactus-run"
CLUSTER_TYPES = ("kubernetes", "mesos")
# Host runs: Toil's batch system on the host. The ones below need a cluster of their own (Kubernetes,
# Mesos, AWS Batch): this project makes that cluster on AWS instead, in an "aws" plan.
DEFAULT_HOST_BATCH_SYSTEM = "single_machine"
CLUSTER_BATCH_SYSTEMS = ("kubernetes", "mesos", "aws_batch")
NO_TARGET_HOST_FIX = "leave cactus_target_hosts empty to run on a Toil cluster on AWS"

# Toil names the cluster's IAM role "<name, '-' -> '_'>_toil" (AWSProvisioner._namespace_name with
# _INSTANCE_PROFILE_ROLE_NAME "toil"); IAM role names are at most 64 characters.

# The user variables the roles expose, named in messages.
VARS = {
    "cluster_name": "toil_cluster_name",
    "zone": "toil_zone",
    "key_pair_name": "toil_key_pair_name",
    "owner": "toil_owner",
    "cluster_type": "toil_cluster_type",
    "node_types": "toil_node_types",
    "min_nodes": "toil_min_nodes",
    "max_nodes": "toil_max_nodes",
    "spot_bid": "toil_spot_bid",
    "jobstore_name": "toil_jobstore_name",
    "leader_node_type": "toil_leader_node_type",
    "leader_storage": "toil_leader_storage",
    "node_storage": "toil_node_storage",
    "on_demand_prices": "toil_on_demand_prices",
    "run_tag": "toil_run_tag",
    "cons_cores": "cactus_cons_cores",
    "extra_options": "cactus_extra_options",
    "output": "cactus_output",
    "seqfile": "cactus_seqfile",
    "existing_clusters": "toil_existing_clusters",
    "target_host": "cactus_target_hosts",
    "batch_system": "cactus_batch_system",
    "max_cores": "cactus_max_cores",
    "max_memory": "cactus_max_memory",
    "leader_run_dir": "cactus_leader_dir",
    # Governed AWS accounts (see the "Governed accounts" section below).
    "vpc_subnet": "toil_vpc_subnet",
    "use_private_ip": "toil_use_private_ip",
    "instance_profile_arn": "toil_instance_profile_arn",
    "extra_security_groups": "toil_extra_security_groups",
    "tags": "toil_tags",
    "aws_ami": "toil_aws_ami",
    "appliance_image": "toil_appliance_image",
    "slurm_partition": "cactus_slurm_partition",
    "slurm_time": "cactus_slurm_time",
    "slurm_args": "cactus_slurm_args",
    "max_jobs": "cactus_max_jobs",
    "staging_url": "cactus_transfer_s3_url",
}

# Options the plan writes into the cactus command: the user sets them through a variable instead.
# --nodeTypes is an "extend" option in Toil: a second copy would add node types, not replace them.
PLANNED_OPTIONS = {
    "--batchSystem": "toil_cluster_type", "--provisioner": "toil_cluster_type",
    "--nodeTypes": "toil_node_types", "--minNodes": "toil_min_nodes", "--maxNodes": "toil_max_nodes",
    "--nodeStorage": "toil_node_storage", "--binariesMode": "toil_cluster_type",
    "--consCores": "cactus_cons_cores", "--logFile": "the plan's log_file",
    "--defaultPreemptable": "toil_node_types (a ':bid' makes it)",
    "--defaultPreemptible": "toil_node_types (a ':bid' makes it)",
    "--restart": "the plan's cactus_restart_argv",
}
SHORT_PLANNED_OPTIONS = {"-p": "toil_cluster_type"}
# On a host: the options the host plan writes, and the cluster options that mean nothing there.
# --binariesMode stays allowed (the release's local binaries are the default on a host).
HOST_PLANNED_OPTIONS = {
    "--batchSystem": VARS["batch_system"], "--maxCores": VARS["max_cores"],
    "--maxMemory": VARS["max_memory"], "--consCores": VARS["cons_cores"],
    "--logFile": "the plan's log_file", "--restart": "the plan's cactus_restart_argv",
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
# Cactus's cactus#1465: Toil's sacct calls broke with tens of thousands of jobs in flight.
DEFAULT_SLURM_MAX_JOBS = 1000
HOST_CLUSTER_OPTIONS = ("--provisioner", "--nodeTypes", "--minNodes", "--maxNodes", "--nodeStorage")
SHORT_HOST_CLUSTER_OPTIONS = {"-p": "--provisioner"}
NO_CLUSTER_FIX = "a run on an inventory host has no cluster to scale"


# The one error type (variable, problem, fix), under the name this module's callers know.
PlanError = CactusError


# ---- Toil's own parsers and tables (imported lazily) --------------------------------------------

@lru_cache(maxsize=1)
def _toil_tables():
    from toil.lib.generatedEC2Lists import E2Instances, regionDict

    return E2Instances, regionDict


def _toil_parse_node_types(spec):
    from toil.provisioners import parse_node_types

    return parse_node_types(spec)


def _toil_check_jobstore(locator_tail):
    from toil.jobStores.aws.jobStore import parse_jobstore_identifier

    return parse_jobstore_identifier(locator_tail)


@lru_cache(maxsize=1)
def _toil_batch_systems():
    """The names `--batchSystem` accepts (Toil's registry, plugins included)."""
    from toil.batchSystems.registry import get_batch_systems

    return tuple(get_batch_systems())


def _toil_human2bytes(text):
    from toil.lib.conversions import human2bytes

    return human2bytes(text)


# ---- Size classes and the seed table ------------------------------------------------------------

def size_class(size_bytes):
    """Class of a genome of `size_bytes` (None -> "unknown"); boundaries are the *_MAX_BYTES."""
    if size_bytes is None:
        return UNKNOWN
    if size_bytes < SMALL_MAX_BYTES:
        return "small"
    if size_bytes < NEMATODE_MAX_BYTES:
        return "nematode"
    if size_bytes < BIRD_MAX_BYTES:
        return "bird"
    return "mammal"


def seed_node_counts(classes):
    """(spot max, on-demand max) for genomes of these classes: each adds its share, then ceil."""
    spot = sum((SEED_PER_GENOME[SEED_ROW_FOR_CLASS[c]][0] for c in classes), Fraction(0))
    on_demand = sum((SEED_PER_GENOME[SEED_ROW_FOR_CLASS[c]][1] for c in classes), Fraction(0))
    return math.ceil(spot), math.ceil(on_demand)


def single_machine_recommended(classes):
    """The seed guide: below 100 Mb a single machine is better than an autoscaling cluster."""
    classes = list(classes)
    return bool(classes) and all(c == "small" for c in classes)


def largest_class(classes):
    """The largest class present; unknown counts as mammal (the safe side for disk)."""
    order = {c: i for i, c in enumerate(SIZE_CLASSES)}
    ranked = ["mammal" if c == UNKNOWN else c for c in classes]
    return max(ranked, key=order.__getitem__) if ranked else "small"


# ---- Node types ---------------------------------------------------------------------------------

def format_bid(bid):
    return repr(float(bid))


def default_node_types(spot_bid=DEFAULT_SPOT_BID):
    """The seed guide's pair: c4.8xlarge on the spot market at `spot_bid`, r3.8xlarge on demand."""
    check_bid(spot_bid, VARS["spot_bid"])
    return [f"{DEFAULT_SPOT_TYPE}:{format_bid(spot_bid)}", DEFAULT_ON_DEMAND_TYPE]


def check_bid(bid, variable):
    try:
        value = float(bid)
    except (TypeError, ValueError):
        raise PlanError(variable, f"spot bid {bid!r} is not a number",
                        "give USD per hour, e.g. 0.6") from None
    if not math.isfinite(value) or value <= 0:
        raise PlanError(variable, f"spot bid {bid!r} must be a positive number",
                        "give USD per hour, e.g. 0.6")
    return value


def normalize_node_types(value):
    """Accept Toil's comma-separated string or a list of node types; None when none are given."""
    if value is None or (isinstance(value, (str, list, tuple)) and not value):
        return None
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    items = [item.strip() for item in items]
    if not items or any(not item for item in items):
        raise PlanError(VARS["node_types"], f"empty node type in {value!r}",
                        "list node types like ['c4.8xlarge:0.6', 'r3.8xlarge']")
    return items


def parse_node_type(spec):
    """One node type -> (sorted instance types, bid or None), checked by Toil's parse_node_types."""
    if "," in spec:
        raise PlanError(VARS["node_types"], f"'{spec}' holds more than one node type",
                        "give one node type per list item")
    try:
        [(instance_types, bid)] = _toil_parse_node_types(spec)
    except ValueError as error:
        raise PlanError(VARS["node_types"], f"Toil cannot parse '{spec}': {error}",
                        "write type[/type...][:bid], e.g. c5.4xlarge/c5a.4xlarge:0.42 or r3.8xlarge",
                        ) from None
    if bid is not None:
        check_bid(bid, VARS["node_types"])
    return sorted(instance_types), bid


def check_region_supported(region):
    """Toil 9.4.1 knows 17 regions (its instance table and EC2Regions); launch-cluster and the
    AWS job store refuse the others."""
    _, regions = _toil_tables()
    if region not in regions:
        raise PlanError(VARS["zone"], f"region {region} is not in Toil 9.4.1's instance table "
                        "(launch-cluster and the AWS job store refuse it)",
                        f"use a zone in one of: {', '.join(sorted(regions))}")


def instance_architecture(instance_type):
    """'amd64' or 'arm64' by Toil's instance table (amd64 when unknown, as Toil assumes)."""
    instances, _ = _toil_tables()
    return getattr(instances.get(instance_type), "architecture", "amd64")


def check_instance_types(parsed_types, leader_node_type, region, cluster_type):
    """Check instance types against Toil's table, as launch-cluster's check_valid_node_types does."""
    instances, regions = _toil_tables()
    check_region_supported(region)
    offered = regions[region]
    checks = [(t, VARS["node_types"]) for types, _ in parsed_types for t in types]
    for name, variable in checks + [(leader_node_type, VARS["leader_node_type"])]:
        _check_offered(name, variable, offered, region)
        arch = getattr(instances.get(name), "architecture", "amd64")
        if cluster_type == "mesos" and arch != "amd64":
            raise PlanError(variable, f"{name} is {arch}; Mesos clusters are "
                            "amd64 only", "pick an amd64 instance type or use toil_cluster_type=kubernetes")
    leader_cores = getattr(instances.get(leader_node_type), "cores", 2)
    if cluster_type == "kubernetes" and leader_cores < 2:
        raise PlanError(VARS["leader_node_type"], f"{leader_node_type} has {leader_cores} vCPU; "
                        "a Kubernetes leader needs 2 or more",
                        "pick a leader type with at least 2 vCPU, e.g. m5.large")


def _check_offered(name, variable, offered, region):
    if name in offered:
        return
    close = get_close_matches(name, offered, 1)
    hint = f"did you mean {close[0]}?" if close else "pick a type offered there"
    raise PlanError(variable, f"instance type {name} is not offered in {region} according to "
                    "Toil's table (launch-cluster would refuse it)", hint)


def node_counts(parsed_types, classes, min_override=None, max_override=None):
    """(min list, max list) parallel to the node types: overrides win, else the seed table.

    Without an override, each node type with a bid gets the seed table's spot maximum and each
    on-demand node type the on-demand maximum; minimums are 0.
    """
    spot_max, on_demand_max = seed_node_counts(classes)
    maxes = [spot_max if bid is not None else on_demand_max for _, bid in parsed_types]
    mins = [0] * len(parsed_types)
    if max_override not in (None, "", [], ()):
        maxes = _count_list(max_override, len(parsed_types), VARS["max_nodes"])
    if min_override not in (None, "", [], ()):
        mins = _count_list(min_override, len(parsed_types), VARS["min_nodes"])
    for (types, _), low, high in zip(parsed_types, mins, maxes, strict=True):
        if low > high:
            raise PlanError(VARS["min_nodes"], f"minimum {low} is above the maximum {high} for "
                            f"{'/'.join(types)}", "make every minimum <= its maximum")
    if not any(maxes):
        raise PlanError(VARS["max_nodes"], "every maximum is 0: no worker could ever start",
                        "give at least one node type a maximum above 0")
    return mins, maxes


def _count_list(value, length, variable):
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        counts = [int(str(item).strip()) for item in items]
    except ValueError:
        raise PlanError(variable, f"{value!r} is not a list of whole numbers", "give e.g. [0, 0]") from None
    if len(counts) != length:
        raise PlanError(variable, f"{len(counts)} values for {length} node types",
                        "give one value per node type, in the same order")
    if any(c < 0 for c in counts):
        raise PlanError(variable, f"negative count in {counts}", "counts are 0 or more")
    return counts


def default_cons_cores(parsed_types, maxes, cluster_type):
    """Cores for each cactus_consolidated job: the smallest worker that may start must fit one.

    Mesos offers a node's every core (maintainers run 32 on r5.8xlarge); on Kubernetes one core is
    kept back for the system pods. c4.8xlarge (36) + r3.8xlarge (32): 32 on Mesos, 31 on Kubernetes.
    """
    instances, _ = _toil_tables()
    cores = [instances[t].cores for (types, _), high in zip(parsed_types, maxes, strict=True) if high
             for t in types if t in instances]
    if not cores:
        return DEFAULT_CONS_CORES
    headroom = KUBERNETES_CORE_HEADROOM if cluster_type == "kubernetes" else 0
    return max(1, min(cores) - headroom)


def check_cons_cores(cons_cores, parsed_types, maxes, warnings):
    instances, _ = _toil_tables()
    if not isinstance(cons_cores, int) or isinstance(cons_cores, bool) or cons_cores < 1:
        raise PlanError(VARS["cons_cores"], f"{cons_cores!r} is not a whole number >= 1",
                        "give e.g. 32, or leave it unset for the plan's default")
    cores = [instances[t].cores for (types, _), high in zip(parsed_types, maxes, strict=True) if high
             for t in types if t in instances]
    if cores and cons_cores > max(cores):
        raise PlanError(VARS["cons_cores"], f"{cons_cores} cores is more than any worker has "
                        f"(largest: {max(cores)})", "lower it, or add a larger node type")
    if cores and cons_cores > min(cores):
        warnings.append(f"cactus_cons_cores {cons_cores} does not fit the smallest worker "
                        f"({min(cores)} vCPU): consolidated jobs can only run on the larger types")


def default_node_storage(classes):
    return NODE_STORAGE_GB[largest_class(classes)]


def default_leader_storage(local_bytes):
    """Toil's 50 GB plus room for the local genomes staged on the leader before import."""
    return LEADER_BASE_STORAGE_GB + math.ceil(local_bytes / GB)


# ---- Names --------------------------------------------------------------------------------------

def check_jobstore_name(name, region):
    """Return the job store locator aws:<region>:<name>, checked by Toil's parse_jobstore_identifier."""
    variable = VARS["jobstore_name"]
    if not isinstance(name, str) or ":" in name:
        raise PlanError(variable, f"{name!r} is not a plain job store name",
                        "give the name only; the plan adds aws:<region>:")
    try:
        _toil_check_jobstore(f"{region}:{name}")
    except ValueError as error:
        raise PlanError(variable, f"Toil refuses '{name}': {error}",
                        "use 3-56 lowercase letters, digits and single hyphens, not at either end") from None
    return jobstore_locator(region, name)


def check_cluster_name_hazards(name, existing):
    for other in existing or ():
        if names_conflict(name, other):
            raise PlanError(VARS["cluster_name"], f"'{name}' and the existing cluster '{other}' are "
                            "hyphen-prefixes of each other: destroy-cluster on one deletes the "
                            "other's IAM role", "pick a name that neither starts with the other's "
                            "name plus '-' nor is such a prefix of it")


def check_run_tag(key, value):
    """The run's marker tag, by the same rules as every tag (check_tag)."""
    check_tag(key, value, VARS["run_tag"])


# ---- Governed AWS accounts: subnet, instance profile, security groups, tags, pinned images --------
# What launch-cluster 9.4.1 does with them (toil/utils/toilLaunchCluster.py, AWSProvisioner.launchCluster):
# --vpcSubnet places the leader (workers go to like subnets of its VPC); --awsEc2ProfileArn replaces
# the IAM role + instance profile Toil would make (<name>_toil, iam:*/ec2:*/s3:* on everything);
# --awsEc2ExtraSecurityGroupId adds groups beside the one Toil makes; --tag K=V goes on the leader,
# its volumes and every worker (and TOIL_AWS_TAGS, which launch-cluster reads only when no --tag is
# given, is set in the leader's appliance from them: Toil's job store bucket gets them from there).
# TOIL_AWS_AMI skips the Flatcar feed; TOIL_APPLIANCE_SELF picks the appliance, which the launch looks
# up in its registry over the network (anonymously) unless the name carries Toil's commit: the user
# data (AbstractProvisioner, applianceSelf() without forceDockerAppliance) does it even with
# --forceDockerAppliance, after the security group and IAM role exist. So no --forceDockerAppliance
# here: pre-flight makes the same look-up first.

# EC2's tag rules (S3's are the same): key 1-128 characters, value 0-256, the prefix "aws:" reserved,
# letters (any script), digits, spaces and _ . : / = + - @; at most 50 tags on a resource. Toil's
# --tag splits on '=', so neither key nor value may hold one here.
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAGS_PER_RESOURCE_MAX = 50
TAG_TEXT_RE = re.compile(r"^[\w .:/+@-]*$")
TAG_CHARACTERS_FIX = "use letters, digits, spaces and _ . : / + - @ (no '=': Toil splits the tag on '=')"
# Tags Toil writes itself: Name, clusterName and ToilNodeType are how Toil (and this project) find the
# cluster and its leader; Owner has its own variable; plus sshKeyName and kubernetes.io/cluster/<name>.
TOIL_TAG_KEYS = {"Name": None, "clusterName": None, "ToilNodeType": None, "sshKeyName": None,
                 "Owner": "toil_owner"}
TOIL_TAG_PREFIX = "kubernetes.io/cluster/"
TOIL_TAG_COUNT = len(TOIL_TAG_KEYS) + 1  # + the kubernetes one
SUBNET_ID_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
SECURITY_GROUP_ID_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")
AMI_ID_RE = re.compile(r"^ami-[0-9a-f]{8,17}$")
INSTANCE_PROFILE_ARN_RE = re.compile(r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:instance-profile/([\w+=,.@/-]*/)?"
                                     r"(?P<name>[\w+=,.@-]{1,128})$")
# A pinned image: [registry/]repository:tag or @sha256:digest (Docker's reference grammar, simplified).
IMAGE_RE = re.compile(r"^(?P<repository>[a-z0-9]+([._-]+[a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*)"
                      r"(?P<pin>:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")


def check_tag(key, value, variable):
    """One tag by EC2's rules (and Toil's '=' split); the message names `variable`."""
    if not isinstance(key, str) or not key or len(key) > TAG_KEY_MAX:
        raise PlanError(variable, f"tag key {key!r} must be 1-{TAG_KEY_MAX} characters",
                        "shorten it (EC2's limit)")
    if key.lower().startswith("aws:"):
        raise PlanError(variable, f"tag key {key!r} starts with 'aws:', which AWS reserves",
                        "pick another key")
    if "=" in key or not TAG_TEXT_RE.match(key):
        raise PlanError(variable, f"tag key {key!r} holds characters EC2 or Toil refuse", TAG_CHARACTERS_FIX)
    if not isinstance(value, str) or len(value) > TAG_VALUE_MAX:
        raise PlanError(variable, f"the value of tag {key!r} must be text of at most {TAG_VALUE_MAX} "
                        "characters", "shorten it (EC2's limit)")
    if "=" in value or not TAG_TEXT_RE.match(value):
        raise PlanError(variable, f"the value {value!r} of tag {key!r} holds characters EC2 or Toil refuse",
                        TAG_CHARACTERS_FIX)


def check_user_tags(tags, run_tag_key=RUN_TAG_KEY):
    """toil_tags: {key: value} by EC2's rules, none of Toil's own keys nor the run's marker.

    Numbers are taken as their text (YAML reads `CostCenter: 1234` as a number). Returns {str: str}.
    """
    variable = VARS["tags"]
    if tags in (None, ""):
        return {}
    if not isinstance(tags, dict):
        raise PlanError(variable, f"{tags!r} is not a mapping of tag keys to values",
                        "give e.g. {CostCenter: '1234', Team: genomics}")
    checked = {}
    for key, value in tags.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if key in TOIL_TAG_KEYS or str(key).startswith(TOIL_TAG_PREFIX) or key == run_tag_key:
            own = TOIL_TAG_KEYS.get(key)
            raise PlanError(variable, f"tag key {key!r} is one this run writes itself",
                            f"set {own} instead" if own else "drop it, or pick another key")
        check_tag(key, value, variable)
        checked[key] = value
    room = TAGS_PER_RESOURCE_MAX - TOIL_TAG_COUNT - 1
    if len(checked) > room:
        raise PlanError(variable, f"{len(checked)} tags; with Toil's own {TOIL_TAG_COUNT} and the run's "
                        f"marker an instance would carry more than EC2's {TAGS_PER_RESOURCE_MAX}",
                        f"keep at most {room}")
    return checked


def check_vpc_subnet(subnet_id):
    """toil_vpc_subnet: empty (the zone's default subnet) or a subnet id."""
    if not subnet_id:
        return None
    if not isinstance(subnet_id, str) or not SUBNET_ID_RE.match(subnet_id):
        raise PlanError(VARS["vpc_subnet"], f"{subnet_id!r} is not a subnet id",
                        "give the id of a subnet in toil_zone, e.g. subnet-0abc1234def567890")
    return subnet_id


def check_security_group_ids(groups):
    """toil_extra_security_groups: security group ids (Toil takes ids, not names)."""
    variable = VARS["extra_security_groups"]
    if groups in (None, ""):
        return []
    if isinstance(groups, str) or not isinstance(groups, (list, tuple)):
        raise PlanError(variable, f"{groups!r} is not a list", "give a list of ids, e.g. [sg-0abc1234]")
    for group in groups:
        if not isinstance(group, str) or not SECURITY_GROUP_ID_RE.match(group):
            raise PlanError(variable, f"{group!r} is not a security group id (Toil takes ids, not names)",
                            "give ids such as sg-0abc1234def567890")
    if len(set(groups)) != len(groups):
        raise PlanError(variable, f"{groups} names a group twice", "list each group once")
    return list(groups)


def instance_profile_name(arn):
    """The name in an instance profile ARN (arn:aws:iam::<account>:instance-profile/[path/]name)."""
    match = INSTANCE_PROFILE_ARN_RE.match(arn or "")
    if not match:
        raise PlanError(VARS["instance_profile_arn"], f"{arn!r} is not an instance profile ARN",
                        "give arn:aws:iam::<account>:instance-profile/<name> (aws iam get-instance-profile "
                        "shows it; a role ARN is not an instance profile ARN)")
    return match.group("name")


def check_instance_profile(arn, cluster_name, role_names=()):
    """toil_instance_profile_arn: empty (Toil makes <name>_toil), or an existing profile's ARN whose
    name, and whose roles' names, toil destroy-cluster would not delete (it deletes IAM roles and
    instance profiles by the cluster's name prefix). Returns the profile's name or None."""
    if not arn:
        return None
    name = instance_profile_name(arn)
    for kind, claimed in [("instance profile", name)] + [("role", role) for role in role_names]:
        if toil_claims(cluster_name, claimed):
            raise PlanError(VARS["instance_profile_arn"], f"toil destroy-cluster {cluster_name} would delete "
                            f"the {kind} {claimed} (Toil deletes IAM roles and instance profiles by the "
                            "cluster's name prefix)", "use a profile and role whose names do not start with "
                            f"'{toil_role_name(cluster_name, '')}', or another toil_cluster_name")
    return name


def check_ami(ami):
    if not ami:
        return None
    if not isinstance(ami, str) or not AMI_ID_RE.match(ami):
        raise PlanError(VARS["aws_ami"], f"{ami!r} is not an AMI id",
                        "give an image id such as ami-0abc1234def567890 (a Flatcar image of the region)")
    return ami


def check_appliance_image(image):
    """toil_appliance_image: empty (the image of the controller's Toil), or a pinned image reference,
    also checked by Toil's own checkDockerSchema."""
    if not image:
        return None
    variable = VARS["appliance_image"]
    fix = "give registry/repository:tag or @sha256:digest, e.g. quay.io/ucsc_cgl/toil:9.4.1-<commit>-py3.11"
    if not isinstance(image, str) or not IMAGE_RE.match(image):
        raise PlanError(variable, f"{image!r} is not a pinned image reference (a tag or digest is needed)",
                        fix)
    if image.endswith(":latest"):
        raise PlanError(variable, f"{image!r} is not pinned: 'latest' moves", fix)
    try:
        _toil_check_docker_schema(image)
    except Exception as error:  # Toil's ImageNotFound
        raise PlanError(variable, f"Toil refuses {image!r}: {error}", fix) from None
    return image


def toil_commit():
    """The commit of the controller's Toil, which its default appliance image carries."""
    from toil.version import currentCommit

    return currentCommit


def appliance_image_lookup(image):
    """How Toil's launch checks the appliance image (toil.checkDockerImageExists): None (none given),
    'skipped' (its name carries Toil's commit), or 'registry' (an anonymous request to its registry)."""
    if not image:
        return None
    return "skipped" if toil_commit() in image else "registry"


def _toil_check_docker_schema(image):
    from toil import checkDockerSchema

    checkDockerSchema(image)


def resource_tags(owner, user_tags, run_tag_key, run_tag_value):
    """The tags of everything the run makes: Owner, the user's, the run's marker (in that order)."""
    return {"Owner": owner, **user_tags, run_tag_key: run_tag_value}


def governed_settings(settings, cluster_name, tags):
    """The plan's record of how the run fits the account (all checked here, offline)."""
    profile = settings.instance_profile_arn or None
    check_instance_profile(profile, cluster_name)
    return {
        "vpc_subnet": check_vpc_subnet(settings.vpc_subnet),
        "use_private_ip": bool(settings.use_private_ip),
        "instance_profile_arn": profile,
        # Without a profile Toil makes IAM role and instance profile <name>_toil (iam:*, ec2:*, s3:*).
        "creates_iam_role": profile is None,
        "extra_security_groups": check_security_group_ids(settings.extra_security_groups),
        "tags": tags,
        "aws_ami": check_ami(settings.aws_ami),
        "appliance_image": check_appliance_image(settings.appliance_image),
        "appliance_image_lookup": appliance_image_lookup(settings.appliance_image),
    }


def governed_launch_options(governed):
    """launch-cluster options for the governed settings (the tags are added by launch_cluster_argv)."""
    argv = []
    if governed["vpc_subnet"]:
        argv += ["--vpcSubnet", governed["vpc_subnet"]]
    if governed["instance_profile_arn"]:
        argv += ["--awsEc2ProfileArn", governed["instance_profile_arn"]]
    for group in governed["extra_security_groups"]:
        argv += ["--awsEc2ExtraSecurityGroupId", group]
    return argv


def governed_summary(governed):
    """One line for the plan's summary, or None when nothing is set."""
    parts = []
    if governed["vpc_subnet"]:
        parts.append(f"subnet {governed['vpc_subnet']}")
    if governed["use_private_ip"]:
        parts.append("private addresses")
    if governed["instance_profile_arn"]:
        parts.append(f"instance profile {governed['instance_profile_arn']} (Toil creates no IAM role)")
    if governed["extra_security_groups"]:
        parts.append(f"extra security groups {', '.join(governed['extra_security_groups'])}")
    if governed["aws_ami"]:
        parts.append(f"AMI {governed['aws_ami']}")
    if governed["appliance_image"]:
        parts.append(f"appliance {governed['appliance_image']}")
    return f"account: {'; '.join(parts)}" if parts else None


# ---- Output and extra options -------------------------------------------------------------------

def output_kind(output):
    """'s3' for an s3://bucket/key URL, 'local' for a path; anything else is refused."""
    variable = VARS["output"]
    if not output:
        raise PlanError(variable, "no output", "give s3://bucket/name.hal or a local path for the HAL")
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", output)
    if not match:
        return "local"
    if match.group(1).lower() != "s3" or not re.match(r"^s3://[^/]+/.+[^/]$", output):
        raise PlanError(variable, f"'{output}' is not an s3://bucket/key URL or a local path",
                        "Toil exports the HAL to s3:// or to a file on the leader")
    if "?" in output or "#" in output:  # Toil reads the key from urlparse(...).path
        raise PlanError(variable, f"'{output}' holds '?' or '#', which Toil reads as the start of a query or "
                        "a fragment, not as part of the key", "use a key of letters, digits and . _ - /")
    return "s3"


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
    raise PlanError(VARS["extra_options"], f"'{token}' {problem}", fix)


@lru_cache(maxsize=1)
def cactus_option_table():
    """{option string: (nargs, choices)} of the pinned Cactus's `cactus` parser: Toil's workflow
    options from Toil's own parser (the one Cactus builds on), and Cactus's own from the data in
    cactus_options (read from its release's source)."""
    from ansible_collections.genomics.cactus.plugins.module_utils.cactus_options import CACTUS_OPTIONS
    from toil.job import Job

    table = {}
    for action in Job.Runner.getDefaultArgumentParser()._actions:
        for option in action.option_strings:
            table[option] = (action.nargs, action.choices)
    for option, spec in CACTUS_OPTIONS.items():
        table[option] = (spec["nargs"], spec.get("choices"))
    return table


def check_extra_option_names(extra):
    """Every token of `extra` is an option of the pinned Cactus (or an unambiguous prefix of one, which
    argparse accepts) or that option's value: what cactus would refuse on the leader fails here."""
    from ansible_collections.genomics.cactus.plugins.module_utils.cactus_options import (
        CACTUS_OPTIONS_VERSION as version,
    )

    table = cactus_option_table()
    longs = sorted(o for o in table if o.startswith("--"))
    tokens = list(extra)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("-") or token in ("-", "--"):
            raise PlanError(VARS["extra_options"], f"'{token}' is neither a cactus option nor an option's "
                            "value (cactus would stop: unrecognized arguments)",
                            "give options with their values, e.g. ['--root', 'mr']")
        name, attached = (token.split("=", 1) + [None])[:2] if token.startswith("--") else (token[:2], None)
        if not token.startswith("--") and len(token) > 2:
            attached = token[2:]
        option = _find_option(name, longs, table, version)
        nargs, choices = table[option]
        values = [attached] if attached is not None else []
        if attached is None and nargs is None:
            if index >= len(tokens):
                raise PlanError(VARS["extra_options"], f"'{token}' needs a value", f"write {option} VALUE")
            values, index = [tokens[index]], index + 1
        elif attached is None and nargs in ("?", "*", "+"):
            while index < len(tokens) and not tokens[index].startswith("-"):
                values.append(tokens[index])
                index += 1
                if nargs == "?":
                    break
        for value in values:
            if choices and all(isinstance(c, str) for c in choices) and value not in choices:
                allowed = ", ".join(choices)
                raise PlanError(VARS["extra_options"], f"{option} '{value}' is not one of {allowed} "
                                f"(cactus {version})", f"use one of: {allowed}")


def _find_option(name, longs, table, version):
    if name in table:
        return name
    if name.startswith("--"):
        matches = [o for o in longs if o.startswith(name)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise PlanError(VARS["extra_options"], f"'{name}' is an ambiguous prefix of {', '.join(matches)}",
                            "write the whole option name")
    close = get_close_matches(name, longs if name.startswith("--") else list(table), 1, 0.6)
    fix = f"did you mean {close[0]}?" if close else "see cactus --help of that release"
    raise PlanError(VARS["extra_options"], f"'{name}' is not an option of cactus {version} (its own options "
                    "and Toil 9.4.1's)", fix)


def _check_metrics_value(token, following):
    value = token.split("=", 1)[1] if "=" in token else (following[0] if following else "")
    if value.lower() not in ("true", "false", "yes", "no", "1", "0", "y", "n", "on", "off", "t", "f"):
        raise PlanError(VARS["extra_options"], f"--metrics takes a boolean since Toil 6, got '{value}' "
                        "(the seed guide's '--metrics <jobStore>' swallows the job store)",
                        "drop --metrics, or write --metrics true")


def _check_max_cores(token, following, cons_cores):
    value = token.split("=", 1)[1] if "=" in token else (following[0] if following else "")
    if value.isdigit() and cons_cores > int(value):
        raise PlanError(VARS["cons_cores"], f"{cons_cores} is above --maxCores {value} "
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
                extra_options=(), restart=False):
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
    argv += list(extra_options)
    if restart:
        argv.append("--restart")
    return argv


def host_cactus_argv(*, jobstore, seqfile, output, batch_system, max_cores, max_memory, cons_cores,
                     log_file, retry_count=DEFAULT_RETRY_COUNT, extra_options=(), restart=False, slurm=None):
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


# ---- Cost ---------------------------------------------------------------------------------------

def cost_ceiling(node_types, max_nodes, leader_node_type, on_demand_prices):
    """Worst-case USD per hour: spot bids x max, on-demand price x max, plus the leader.

    A node type of several on-demand instance types costs its dearest one. `total` is None when
    any price is unknown; `known_total` still adds up the rest.
    """
    prices = on_demand_prices or {}
    lines = [_node_type_cost_line(spec, count, prices) for spec, count in zip(node_types, max_nodes,
                                                                              strict=True)]
    lines.append(_line(f"{leader_node_type} leader (on demand)", 1, prices.get(leader_node_type)))
    unknown = [line["item"] for line in lines if line["subtotal"] is None]
    known = round(sum(line["subtotal"] for line in lines if line["subtotal"] is not None), 4)
    return {"unit": "USD/hour", "lines": lines, "known_total": known,
            "total": None if unknown else known, "unknown": unknown}


def _node_type_cost_line(spec, count, prices):
    types, bid = parse_node_type(spec)
    if bid is not None:
        return _line(f"{spec} (spot, at most the bid)", count, bid)
    known = [prices.get(t) for t in types]
    unit = None if None in known else max(float(p) for p in known)
    return _line(f"{spec} (on demand)", count, unit)


def _line(item, count, unit):
    subtotal = None if unit is None else round(float(unit) * count, 4)
    return {"item": item, "count": count, "unit_price": None if unit is None else float(unit),
            "subtotal": subtotal}


# ---- The plan -----------------------------------------------------------------------------------

@dataclass
class PlanSettings:
    # Needed on AWS (require_aws_settings); unused on a host, like every setting up to existing_clusters.
    cluster_name: str | None = None
    zone: str | None = None
    key_pair_name: str | None = None
    output: str | None = None  # required in both modes (output_kind refuses None)
    jobstore_name: str | None = None  # default: "<cluster_name>-jobstore"
    owner: str | None = None  # default: the key pair name, as Toil does
    cluster_type: str = "kubernetes"
    node_types: list | str | None = None  # default: the seed pair with spot_bid
    min_nodes: list | str | None = None
    max_nodes: list | str | None = None
    spot_bid: float = DEFAULT_SPOT_BID
    leader_node_type: str = DEFAULT_LEADER_NODE_TYPE
    leader_storage: int | None = None  # default: default_leader_storage()
    node_storage: int | None = None  # default: by the largest size class
    cons_cores: int | None = None  # default: default_cons_cores()
    retry_count: int = DEFAULT_RETRY_COUNT
    extra_options: list | str | None = None
    on_demand_prices: dict = field(default_factory=dict)
    run_tag_key: str = RUN_TAG_KEY
    run_tag_value: str | None = None  # default: the job store name
    existing_clusters: list = field(default_factory=list)
    leader_run_dir: str | None = None  # default: <leader_dir>/runs/<jobstore name, or run name on a host>
    leader_dir: str | None = None  # the target's working directory (no runs/ level when not given)
    run_name: str | None = None  # host runs: names the run directory (default: the host's name)
    leader_seqfile: str | None = None  # default: <leader_run_dir>/seqfile.txt
    leader_output: str | None = None  # local output only; default: <leader_run_dir>/<basename>
    log_file: str | None = None  # default: <leader_run_dir>/cactus.log
    cactus_version: str = "v3.2.1"
    # A host run: the inventory host that runs cactus; None for a run on a Toil cluster on AWS.
    target_host: str | None = None
    batch_system: str = DEFAULT_HOST_BATCH_SYSTEM  # host runs only
    max_cores: int | None = None  # host runs only: --maxCores
    max_memory: int | str | None = None  # host runs only: --maxMemory, bytes or a Toil size ("64G")
    # Host runs only: the host's own cores and MiB (its facts), the single_machine default limits.
    host_cores: int | None = None
    host_memory_mb: int | None = None
    # Governed AWS accounts (AWS runs only): see governed_settings().
    vpc_subnet: str | None = None  # default: the zone's default subnet
    use_private_ip: bool = False  # reach the leader at its private address
    instance_profile_arn: str | None = None  # default: Toil makes IAM role + profile <name>_toil
    extra_security_groups: list = field(default_factory=list)
    tags: dict = field(default_factory=dict)  # on every instance, volume and bucket the run makes
    aws_ami: str | None = None  # TOIL_AWS_AMI; default: Toil's Flatcar feed
    appliance_image: str | None = None  # TOIL_APPLIANCE_SELF; default: the controller Toil's image
    # Host runs on a Slurm login node: user settings, and what pre-flight saw of the partition
    # (cactus_slurm.check_slurm's facts: name, time_limit, cpus, memory_mb), the plan's defaults.
    slurm_partition: str | None = None
    slurm_time: str | None = None
    slurm_args: str | None = None
    max_jobs: int | None = None
    slurm_facts: dict | None = None
    # auto, prepare_toil or progressive (cactus_prepare_toil.resolve_workflow); instance facts by type
    # (instance_facts: EC2's DescribeInstanceTypes; missing ones from Toil's table).
    workflow: str = "auto"
    instance_facts: dict | None = None


def build_plan(seqfile, measurements, settings):
    """Tie it together: `seqfile` from parse_seqfile, `measurements` {name: {"size": bytes|None, ...}}.

    Returns a JSON-ready dict; raises PlanError (or SeqFileError upstream) on a bad input.
    With settings.target_host, the plan is a host plan (build_host_plan).
    """
    if settings.target_host:
        return build_host_plan(seqfile, measurements, settings)
    require_aws_settings(settings)
    warnings = list(seqfile.warnings)
    cluster_type = _check_cluster_type(settings.cluster_type)
    cluster_name, region, jobstore_name, jobstore, tag_value = _plan_names(settings)
    owner = settings.owner or settings.key_pair_name
    tags = resource_tags(owner, check_user_tags(settings.tags, settings.run_tag_key), settings.run_tag_key,
                         tag_value)
    governed = governed_settings(settings, cluster_name, tags)
    out_kind = output_kind(settings.output)
    genomes = _genome_entries(seqfile, measurements)
    classes = [g["size_class"] for g in genomes]
    workflow, workflow_why = resolve_workflow(settings.workflow, cluster_type)
    extra = normalize_extra_options(settings.extra_options)
    if workflow == "prepare_toil":
        from ansible_collections.genomics.cactus.plugins.module_utils.cactus_step_plan import (
            plan_prepare_toil_workers,
        )

        workers = plan_prepare_toil_workers(settings, genomes, region, cluster_type)
        node_types, mins, maxes = workers["node_types"], workers["min_nodes"], workers["max_nodes"]
        node_storage, cons_cores = workers["node_storage"], None
    else:
        node_types, mins, maxes, cons_cores = _plan_workers(settings, classes, region, cluster_type, warnings)
        check_extra_options(extra, cons_cores)
        node_storage = _positive(settings.node_storage, "node_storage") or default_node_storage(classes)
    local_bytes = sum(g["size_on_disk"] or 0 for g in genomes if g["kind"] == "local")
    leader_storage = _leader_storage(settings.leader_storage, local_bytes, warnings)
    warnings += _sizing_warnings(genomes, workflow == "progressive" and normalize_node_types(settings.node_types)
                                 is None, settings.zone)

    run_dir = settings.leader_run_dir or (f"{settings.leader_dir.rstrip('/')}/runs/{jobstore_name}"
                                          if settings.leader_dir else f"/var/lib/toil/cactus/{jobstore_name}")
    run_dir = check_leader_run_dir(run_dir, "aws")
    paths = _leader_paths(settings, run_dir, out_kind)
    leader_genomes = _place_genomes(seqfile, genomes, paths["run_dir"])
    cactus_output = settings.output if out_kind == "s3" else paths["output"]
    cactus_kwargs = dict(jobstore=jobstore, seqfile=paths["seqfile"], output=cactus_output,
                         cluster_type=cluster_type, node_types=node_types, min_nodes=mins,
                         max_nodes=maxes, node_storage=node_storage, cons_cores=cons_cores,
                         log_file=paths["log_file"], retry_count=settings.retry_count, extra_options=extra)
    plan = {
        "mode": "aws",
        "cluster_name": cluster_name,
        "cluster_type": cluster_type,
        "zone": settings.zone,
        "region": region,
        "jobstore": jobstore,
        "jobstore_name": jobstore_name,
        "run_tag": {settings.run_tag_key: tag_value},
        "cactus_version": settings.cactus_version,
        **_input_keys(seqfile, genomes),
        "node_types": node_types,
        "min_nodes": mins,
        "max_nodes": maxes,
        "node_storage": node_storage,
        "leader_node_type": settings.leader_node_type,
        "leader_storage": leader_storage,
        "cons_cores": cons_cores,
        "output": settings.output,
        "output_kind": out_kind,
        "leader_run_dir": paths["run_dir"],
        "leader_seqfile": paths["seqfile"],
        "leader_seqfile_text": render_seqfile(seqfile, leader_genomes),
        "leader_output": paths["output"],
        "log_file": paths["log_file"],
        "governed": governed,
        "launch_cluster_argv": launch_cluster_argv(
            cluster_name=cluster_name, zone=settings.zone, key_pair_name=settings.key_pair_name,
            leader_node_type=settings.leader_node_type, leader_storage=leader_storage,
            cluster_type=cluster_type, owner=owner, tags={k: v for k, v in tags.items() if k != "Owner"},
            node_types=node_types, min_nodes=mins, max_nodes=maxes, node_storage=node_storage,
            extra=governed_launch_options(governed)),
        "launch_cluster_environment": launch_cluster_environment(settings.zone, governed),
        # For cactus on the leader: Toil tags the job store bucket it makes with TOIL_AWS_TAGS.
        "cactus_environment": {"TOIL_AWS_TAGS": json.dumps(tags, sort_keys=True)},
        "workflow": workflow,
        "workflow_why": workflow_why,
        "cactus_argv": cactus_argv(**cactus_kwargs),
        "cactus_restart_argv": cactus_argv(**cactus_kwargs, restart=True),
        "cost_per_hour": cost_ceiling(node_types, maxes, settings.leader_node_type,
                                      settings.on_demand_prices),
        "warnings": warnings,
    }
    if workflow == "prepare_toil":
        from ansible_collections.genomics.cactus.plugins.module_utils.cactus_step_plan import prepare_toil_keys

        plan.update(prepare_toil_keys(plan, workers, extra, settings, paths))
    plan["summary"] = plan_summary(plan)
    return plan


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


def require_aws_settings(settings):
    """A run on a Toil cluster on AWS needs a cluster name, a zone and a key pair."""
    needed = (("cluster_name", "no Toil cluster name", "give e.g. cactus-birds"),
              ("zone", "no availability zone", "give a zone such as us-west-2a"),
              ("key_pair_name", "no EC2 key pair name",
               "give the name of a key pair that exists in the zone's region"))
    for key, problem, fix in needed:
        if not getattr(settings, key):
            raise PlanError(VARS[key], f"{problem} (a run on a Toil cluster on AWS needs one)",
                            f"{fix}, or set cactus_target_hosts to run on a host of your inventory")


def _plan_names(settings):
    """Check every name; return (cluster name, region, job store name, locator, run tag value)."""
    cluster_name = check_cluster_name(settings.cluster_name)
    check_cluster_name_hazards(cluster_name, settings.existing_clusters)
    region = region_of(settings.zone)
    check_region_supported(region)
    jobstore_name = settings.jobstore_name or f"{cluster_name}-jobstore"
    jobstore = check_jobstore_name(jobstore_name, region)
    _check_key_pair(settings.key_pair_name)
    tag_value = settings.run_tag_value or jobstore_name
    check_run_tag(settings.run_tag_key, tag_value)
    return cluster_name, region, jobstore_name, jobstore, tag_value


def _plan_workers(settings, classes, region, cluster_type, warnings):
    """Node types, their min/max counts and --consCores, from the settings or the seed table."""
    node_types = normalize_node_types(settings.node_types) or default_node_types(settings.spot_bid)
    parsed = [parse_node_type(spec) for spec in node_types]
    check_instance_types(parsed, settings.leader_node_type, region, cluster_type)
    mins, maxes = node_counts(parsed, classes, settings.min_nodes, settings.max_nodes)
    cons_cores = settings.cons_cores
    if cons_cores is None:
        cons_cores = default_cons_cores(parsed, maxes, cluster_type)
    check_cons_cores(cons_cores, parsed, maxes, warnings)
    return node_types, mins, maxes, cons_cores


def _check_cluster_type(cluster_type):
    if cluster_type not in CLUSTER_TYPES:
        raise PlanError(VARS["cluster_type"], f"'{cluster_type}' is not a cluster type",
                        "use kubernetes (recommended) or mesos (deprecated in Toil)")
    return cluster_type


def _check_key_pair(name):
    if not name or not isinstance(name, str):
        raise PlanError(VARS["key_pair_name"], "no EC2 key pair name",
                        "give the name of a key pair that exists in the zone's region")


def _positive(value, key):
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PlanError(VARS[key], f"{value!r} is not a whole number of GB >= 1", "give e.g. 500")
    return value


def _leader_storage(requested, local_bytes, warnings):
    needed = default_leader_storage(local_bytes)
    if requested is None:
        return needed
    _positive(requested, "leader_storage")
    if requested < needed:
        warnings.append(f"toil_leader_storage {requested} GB may be too small: the local genomes "
                        f"({math.ceil(local_bytes / GB)} GB) are staged on the leader; {needed} GB suggested")
    return requested


def _genome_entries(seqfile, measurements):
    """Every genome Cactus imports, leaves and ancestors with a genome line. Ancestors count for
    sizing too: Cactus preprocesses (masks) an imported ancestor and puts it into its own subproblem's
    alignment like an input genome, and it is staged on the leader like one."""
    entries = []
    for genome in seqfile.imported():
        measured = measurements.get(genome.name) or {}
        size = measured.get("size")
        entries.append({
            "name": genome.name, "path": genome.path, "resolved": genome.resolved, "kind": genome.kind,
            "outgroup": genome.outgroup, "size": size, "size_class": size_class(size),
            "size_on_disk": measured.get("size_on_disk", size), "size_method": measured.get("method"),
        })
    return entries


def _sizing_warnings(genomes, default_types, zone):
    warnings = []
    unknown = [g["name"] for g in genomes if g["size"] is None]
    if unknown:
        warnings.append(f"size unknown for {len(unknown)} genome(s) ({', '.join(unknown[:5])}"
                        f"{', ...' if len(unknown) > 5 else ''}): sized as mammal-size")
    if default_types:
        warnings.append(f"the default node types {DEFAULT_SPOT_TYPE} and {DEFAULT_ON_DEMAND_TYPE} are "
                        f"previous-generation: check that {zone} still offers them")
    return warnings


def _leader_paths(settings, run_dir, out_kind):
    output = None
    if out_kind == "local":  # Toil exports to a file:// URL of this path: a safe name (safe_name)
        name = safe_name(os.path.basename(settings.output) or "out.hal")
        output = settings.leader_output or f"{run_dir}/{name}"
    return {"run_dir": run_dir, "seqfile": settings.leader_seqfile or f"{run_dir}/seqfile.txt",
            "output": output, "log_file": settings.log_file or f"{run_dir}/cactus.log"}


def _input_keys(seqfile, genomes):
    """The plan's description of the inputs, the same in both modes."""
    classes = [g["size_class"] for g in genomes]
    return {
        "seqfile": seqfile.path,
        "tree": seqfile.tree,
        "leaves": list(seqfile.leaves),
        "outgroups": [g.name for g in seqfile.imported() if g.outgroup],
        "genomes": genomes,
        "size_classes": {c: classes.count(c) for c in (*SIZE_CLASSES, UNKNOWN) if c in classes},
        "single_machine_recommended": single_machine_recommended(classes),
    }


def _place_genomes(seqfile, genomes, run_dir):
    """Give each genome entry its leader_path; return {name: leader path} of the local genomes."""
    leader_genomes = leader_genome_paths(seqfile, run_dir)
    for entry in genomes:
        entry["leader_path"] = leader_genomes.get(entry["name"], entry["resolved"])
    return leader_genomes


# Characters a leader path may hold. Cactus v3.2.1 hands a local genome to Toil as "file://" +
# the path (cactus.shared.common.makeURL) and Toil reads it back with urlparse + unquote
# (FileJobStore._extract_path_from_url): "?" starts a query, "#" a fragment, "%41" becomes "A".
# A directory genome's files are joined by a shell command (catFiles: "cat <paths> > tmp"), where
# spaces, globs and quotes are read too. Letters, digits, ".", "_" and "-" are read literally by both.
SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]")
SAFE_PATH_RE = re.compile(r"[^A-Za-z0-9._/-]")


def safe_name(name):
    """`name` with every character Toil or a shell could misread replaced by "_" (extensions kept)."""
    safe = SAFE_NAME_RE.sub("_", name)
    return "_" + safe if safe in ("", ".", "..") else safe


def leader_genome_paths(seqfile, run_dir):
    """Where each local genome goes on the leader: <run_dir>/genomes/<name>/<basename>, both made
    safe (safe_name): the leader's seqFile names the copy, which Toil then reads literally."""
    paths, used = {}, set()
    for genome in seqfile.imported():
        if genome.kind != "local":
            continue
        folder = safe_name(genome.name)
        if folder in used:
            folder = f"{folder}-{genome.line}"
        used.add(folder)
        paths[genome.name] = f"{run_dir}/genomes/{folder}/{safe_name(os.path.basename(genome.resolved))}"
    return paths


def check_staging_url(url):
    """(bucket, prefix) of cactus_transfer_s3_url. Toil reads s3:// URLs with urlparse ('?' and '#'
    would cut the key); the rest of each key is a leader path below the genomes directory, already safe."""
    match = re.match(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/.*)?$", url or "")
    if not match:
        raise PlanError(VARS["staging_url"], f"{url!r} is not an s3://bucket[/prefix] URL",
                        "give e.g. s3://my-bucket/cactus-inputs (the bucket is created when missing)")
    prefix = (match.group(2) or "").strip("/")
    if SAFE_PATH_RE.search(prefix):
        raise PlanError(VARS["staging_url"], f"the prefix '{prefix}' holds characters Toil may misread in an "
                        "s3:// URL", "use letters, digits and . _ - /")
    return match.group(1), prefix


def check_leader_run_dir(run_dir, mode):
    """Every leader path starts with the run directory: it must be read literally too."""
    bad = sorted(set(SAFE_PATH_RE.findall(run_dir)))
    if bad:
        name = "cactus_run_name" if mode == "host" else VARS["jobstore_name"]
        raise PlanError(VARS["leader_run_dir"], f"the run directory '{run_dir}' holds {''.join(bad)!r}, "
                        "which Toil misreads in the file:// URLs Cactus makes of local paths",
                        f"use a cactus_leader_dir (and {name}) of letters, digits, '.', '_', '-' and '/'")
    return run_dir


def render_seqfile(seqfile, path_map):
    """The seqFile text with paths replaced from `path_map` (absolute leader paths, URLs kept)."""
    lines = [seqfile.tree] if seqfile.tree else []
    for genome in seqfile.imported():
        mark = "*" if genome.outgroup else ""
        lines.append(f"{mark}{genome.name}\t{path_map.get(genome.name, genome.resolved)}")
    return "\n".join(lines) + "\n"


def _genomes_line(plan):
    counts = ", ".join(f"{n} {c}" for c, n in plan["size_classes"].items())
    return f"{len(plan['genomes'])} genomes ({counts}) from {plan['seqfile']}"


def plan_summary(plan):
    """A few lines for a human: what runs where, how big it may get, what it may cost."""
    counts = zip(plan["node_types"], plan["min_nodes"], plan["max_nodes"], strict=True)
    types = ", ".join(f"{t} {lo}-{hi}" for t, lo, hi in counts)
    cost = plan["cost_per_hour"]
    money = (f"${cost['total']:.2f}/hour" if cost["total"] is not None else
             f"${cost['known_total']:.2f}/hour known + unknown prices for {', '.join(cost['unknown'])}")
    lines = [
        _genomes_line(plan),
        f"cluster {plan['cluster_name']} ({plan['cluster_type']}) in {plan['zone']}: leader "
        f"{plan['leader_node_type']} {plan['leader_storage']} GB; "
        f"workers {types}, {plan['node_storage']} GB each",
        f"job store {plan['jobstore']}; output {plan['output']}"
        + (f"; consCores {plan['cons_cores']}" if plan["cons_cores"] is not None else ""),
        f"cost ceiling {money}",
    ]
    lines[1:1] = plan.get("workflow_lines") or [f"workflow {plan['workflow']} ({plan['workflow_why']})"]
    account = governed_summary(plan["governed"]) if "governed" in plan else None
    if account:
        lines.append(account)
    if plan["single_machine_recommended"]:
        lines.append("all genomes are under 100 Mb: a single machine beats an autoscaling cluster: run on a "
                     "host of your inventory with -e cactus_target_hosts=<host> (README: Small genomes and "
                     "existing machines); the cluster numbers use the nematode row")
    return "\n".join(lines)


# ---- A host plan: one machine of the inventory, no AWS --------------------------------------------

def build_host_plan(seqfile, measurements, settings):
    """The plan of a run on settings.target_host: Toil's file job store in the run directory, the
    batch system of the host (single_machine, or the cluster it submits to), no AWS at all.

    The AWS settings (cluster name, zone, node types, costs, ...) are ignored.
    """
    warnings = list(seqfile.warnings)
    target_host = _check_target_host(settings.target_host)
    batch_system = check_batch_system(settings.batch_system)
    run_dir = settings.leader_run_dir
    if not run_dir and settings.leader_dir:
        run_dir = f"{settings.leader_dir.rstrip('/')}/runs/{settings.run_name or target_host}"
    run_dir = check_leader_run_dir(_host_run_dir(run_dir), "host")
    slurm, defaults = _slurm_plan(settings, run_dir) if batch_system == "slurm" else (None, {})
    max_cores, max_memory = _host_limits(settings, batch_system)
    if max_memory is None and defaults.get("max_memory"):
        max_memory = defaults["max_memory"]
        slurm["defaulted"].append("maxMemory (a node's memory)")
    cons_cores = settings.cons_cores
    if cons_cores is None and max_cores is None and defaults.get("cons_cores"):
        cons_cores = defaults["cons_cores"]
        slurm["defaulted"].append("consCores (a node's CPUs)")
    cons_cores = _host_cons_cores(cons_cores, max_cores, batch_system)
    if output_kind(settings.output) != "local":
        raise PlanError(VARS["output"], "an s3:// output needs AWS, and a run on an inventory host makes "
                        "no AWS call", "give a path on the controller: the HAL is fetched back")
    extra = normalize_extra_options(settings.extra_options)
    check_extra_options(extra, cons_cores, mode="slurm" if slurm else "host")
    genomes = _genome_entries(seqfile, measurements)
    warnings += _host_warnings(genomes, batch_system)

    jobstore = f"{run_dir}/jobstore"
    paths = _leader_paths(settings, run_dir, "local")
    leader_genomes = _place_genomes(seqfile, genomes, run_dir)
    cactus_kwargs = dict(jobstore=jobstore, seqfile=paths["seqfile"], output=paths["output"],
                         batch_system=batch_system, max_cores=max_cores, max_memory=max_memory,
                         cons_cores=cons_cores, log_file=paths["log_file"], retry_count=settings.retry_count,
                         extra_options=extra, slurm=slurm)
    plan = {
        "mode": "host",
        "target_host": target_host,
        "batch_system": batch_system,
        "max_cores": max_cores,
        "max_memory": max_memory,
        "cons_cores": cons_cores,
        "slurm": slurm,
        "jobstore": jobstore,
        "jobstore_name": posixpath.basename(run_dir),
        "cactus_version": settings.cactus_version,
        **_input_keys(seqfile, genomes),
        "output": settings.output,
        "output_kind": "local",
        "leader_run_dir": run_dir,
        "leader_seqfile": paths["seqfile"],
        "leader_seqfile_text": render_seqfile(seqfile, leader_genomes),
        "leader_output": paths["output"],
        "log_file": paths["log_file"],
        "cactus_argv": host_cactus_argv(**cactus_kwargs),
        "cactus_restart_argv": host_cactus_argv(**cactus_kwargs, restart=True),
        "warnings": warnings,
    }
    plan["summary"] = host_plan_summary(plan)
    return plan


def _slurm_plan(settings, run_dir):
    """({partition, time, max_jobs, batch_logs_dir, comment, sbatch_args, defaulted}, limit defaults)
    of a run on a Slurm login node. Unset settings come from the partition pre-flight saw: its name
    (the cluster's default partition), its time limit (Cactus gives one --slurmTime to every job), a
    node's CPUs as --consCores and a node's memory as --maxMemory."""
    from ansible_collections.genomics.cactus.plugins.module_utils.cactus_slurm import (
        run_comment,
        slurm_seconds,
    )

    facts = settings.slurm_facts or {}
    defaulted = []
    partition = settings.slurm_partition or facts.get("name")
    if not settings.slurm_partition and partition:
        defaulted.append("partition" + (" (the cluster's default)" if facts.get("default") else ""))
    time = settings.slurm_time
    if time:
        slurm_seconds(time)
    elif facts.get("time_limit") and facts["time_limit"].lower() not in ("infinite", "unlimited"):
        time = facts["time_limit"]
        defaulted.append("time (the partition's limit)")
    max_jobs = _whole_number(settings.max_jobs, "max_jobs", "give e.g. 1000, or leave it unset")
    if max_jobs is None:
        max_jobs = DEFAULT_SLURM_MAX_JOBS
        defaulted.append("maxJobs")
    sbatch_args = (settings.slurm_args or "").strip()
    for token in shlex.split(sbatch_args):
        name = token.split("=", 1)[0]
        name = name if name.startswith("--") else name[:2]
        if name in SBATCH_REFUSED:
            problem, fix = SBATCH_REFUSED[name]
            raise PlanError(VARS["slurm_args"], f"'{token}' {problem}", fix)
    limits = {}
    if facts.get("cpus"):
        limits["cons_cores"] = facts["cpus"]
    if facts.get("memory_mb"):
        limits["max_memory"] = f"{facts['memory_mb']}Mi"
    slurm = {"partition": partition, "time": time, "max_jobs": max_jobs,
             "batch_logs_dir": f"{run_dir}/batch-logs", "comment": run_comment(run_dir),
             "sbatch_args": sbatch_args, "defaulted": defaulted}
    return slurm, limits


def _host_limits(settings, batch_system):
    """(--maxCores, --maxMemory): as given; else on single_machine the host's own cores and memory
    (its facts); else None - a login node's size says nothing about the cluster's nodes."""
    max_cores, max_memory = settings.max_cores, settings.max_memory
    if batch_system == DEFAULT_HOST_BATCH_SYSTEM:
        if max_cores is None:
            max_cores = settings.host_cores
        if max_memory is None and settings.host_memory_mb is not None:
            max_memory = f"{settings.host_memory_mb}Mi"
    fix = "give e.g. 32, or leave it unset for all of the host's cores"
    return _whole_number(max_cores, "max_cores", fix), check_max_memory(max_memory)


def _check_target_host(name):
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise PlanError(VARS["target_host"], f"{name!r} is not the name of one inventory host",
                        "give one host of your inventory, e.g. bigserver")
    return name


def check_batch_system(name):
    """A batch system of Toil 9.4.1's registry that runs from a host (not a cluster of its own)."""
    variable = VARS["batch_system"]
    name = DEFAULT_HOST_BATCH_SYSTEM if name is None else name
    known = _toil_batch_systems()
    on_host = sorted(b for b in known if b not in CLUSTER_BATCH_SYSTEMS)
    if name in CLUSTER_BATCH_SYSTEMS:
        raise PlanError(variable, f"'{name}' needs a cluster of its own, not an inventory host",
                        NO_TARGET_HOST_FIX)
    if not isinstance(name, str) or name not in known:
        close = get_close_matches(str(name), on_host, 1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise PlanError(variable, f"{name!r} is not a Toil 9.4.1 batch system",
                        f"{hint}use one of: {', '.join(on_host)}")
    return name


def _whole_number(value, key, fix):
    """None, or a whole number >= 1 (not a bool)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PlanError(VARS[key], f"{value!r} is not a whole number >= 1", fix)
    return value


def check_max_memory(value):
    """None, or the value as a string: a whole number of bytes or a size Toil's human2bytes reads."""
    if value is None:
        return None
    fix = "give bytes or a Toil size such as 64G, 2048M or 500Gi, or leave it unset for all of the memory"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PlanError(VARS["max_memory"], f"{value!r} is not a size", fix)
    try:
        size = _toil_human2bytes(str(value))
    except (ValueError, RuntimeError, OverflowError) as error:
        raise PlanError(VARS["max_memory"], f"Toil cannot read {value!r} as a size ({error})", fix) from None
    if size < 1:
        raise PlanError(VARS["max_memory"], f"{value!r} is {size} bytes; Toil wants at least 1", fix)
    return str(value)


def _host_cons_cores(cons_cores, max_cores, batch_system):
    """Cactus v3.2.1: off single_machine --consCores (or --maxCores, which it copies) is required;
    everywhere --consCores <= --maxCores."""
    cons_cores = _whole_number(cons_cores, "cons_cores", "give e.g. 32, or leave it unset")
    if batch_system != DEFAULT_HOST_BATCH_SYSTEM and cons_cores is None and max_cores is None:
        raise PlanError(VARS["cons_cores"], f"--batchSystem {batch_system} needs --consCores or --maxCores "
                        "(Cactus: '--consCores required for non single_machine batch systems')",
                        "give the cores of one node of your cluster")
    if cons_cores is not None and max_cores is not None and cons_cores > max_cores:
        raise PlanError(VARS["cons_cores"], f"{cons_cores} is above {VARS['max_cores']} {max_cores} "
                        "(Cactus: '--consCores must be <= --maxCores')",
                        f"lower it or raise {VARS['max_cores']}")
    return cons_cores


def _host_run_dir(run_dir):
    """The run directory on the host, absolute: the job store and every path of the run live in it."""
    variable = VARS["leader_run_dir"]
    if not run_dir or not isinstance(run_dir, str):
        raise PlanError(variable, "no run directory on the host",
                        "give an absolute path such as /home/alice/cactus/runs/myrun")
    if not posixpath.isabs(run_dir):
        raise PlanError(variable, f"'{run_dir}' is not an absolute path (Toil would read it from the "
                        "directory cactus starts in)", "give an absolute path such as "
                        "/home/alice/cactus/runs/myrun")
    run_dir = posixpath.normpath(run_dir)
    if not posixpath.basename(run_dir):
        raise PlanError(variable, f"'{run_dir}' is the root directory", "give a directory of its own, "
                        "such as /home/alice/cactus/runs/myrun")
    return run_dir


def _host_warnings(genomes, batch_system):
    if batch_system != DEFAULT_HOST_BATCH_SYSTEM:
        return []
    big = [g for g in genomes if g["size_class"] != "small"]
    if not big:
        return []
    named = ", ".join(f"{g['name']} ({'size unknown' if g['size'] is None else g['size_class']})"
                      for g in big[:5])
    more = ", ..." if len(big) > 5 else ""
    return [f"{len(big)} genome(s) are 100 Mb or more, or of unknown size ({named}{more}): an autoscaling "
            "Toil cluster on AWS (leave cactus_target_hosts empty) finishes such genomes sooner, and one "
            "machine needs the memory for them"]


def host_plan_summary(plan):
    """A few lines for a human: what runs on which host, with which limits, and where it goes."""
    cores = "all" if plan["max_cores"] is None else plan["max_cores"]
    memory = "all" if plan["max_memory"] is None else plan["max_memory"]
    cons = "" if plan["cons_cores"] is None else f", consCores {plan['cons_cores']}"
    lines = [
        _genomes_line(plan),
        f"host {plan['target_host']}: --batchSystem {plan['batch_system']}, maxCores {cores}, "
        f"maxMemory {memory}{cons}",
    ]
    slurm = plan.get("slurm")
    if slurm:
        lines.append(
            f"Slurm: partition {slurm['partition'] or '(Slurm picks by time)'}, time "
            f"{slurm['time'] or 'the partition default'} per job, maxJobs {slurm['max_jobs']}, "
            f"--doubleMem true; defaults used: {', '.join(slurm['defaulted']) or 'none'} "
            "(cactus_slurm_partition, cactus_slurm_time, cactus_max_jobs); jobs carry "
            f"--comment={slurm['comment']}; batch logs in {slurm['batch_logs_dir']}")
    lines.append(f"job store {plan['jobstore']}; output {plan['output']} "
                 f"(fetched from {plan['leader_output']})")
    return "\n".join(lines)
