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
# Messages name the user variable to change (cactus_settings.VARS) and say how to fix it.
#
# The rules live in focused files, assembled here: cactus_settings (variables, defaults),
# cactus_sizing (size classes, node types, counts, disks, cost), cactus_governed (governed
# accounts, tags), cactus_command (command lines, extra options), cactus_paths (run directory,
# genome paths), cactus_host (host and Slurm runs), toil_rules (Toil's naming rules, the error).

from __future__ import annotations

import json
import math
import os
import posixpath
from dataclasses import dataclass, field

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_command import (
    cactus_argv,
    check_extra_option_names,
    check_extra_options,
    host_cactus_argv,
    launch_cluster_argv,
    launch_cluster_environment,
    normalize_extra_options,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_gpu import (
    binaries_mode_of,
    check_gpu_binaries_mode,
    check_gpu_count,
    check_gpu_extra_options,
    check_gpu_host_batch_system,
    check_gpu_workflow,
    gpu_line,
    gpu_node_types,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_governed import (
    check_run_tag,
    check_user_tags,
    governed_launch_options,
    governed_settings,
    governed_summary,
    resource_tags,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_host import (
    check_target_host,
    host_cons_cores,
    host_limits,
    check_host_run_dir,
    host_warnings,
    slurm_plan,
    check_batch_system,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_paths import (
    check_leader_run_dir,
    leader_genome_paths,
    output_kind,
    render_seqfile,
    safe_name,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_prepare_toil import resolve_workflow
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import (
    CLUSTER_TYPES,
    DEFAULT_CACTUS_VERSION,
    DEFAULT_CLUSTER_TYPE,
    DEFAULT_GPU,
    DEFAULT_HOST_BATCH_SYSTEM,
    DEFAULT_LEADER_NODE_TYPE,
    DEFAULT_ON_DEMAND_TYPE,
    DEFAULT_RETRY_COUNT,
    DEFAULT_SPOT_BID,
    DEFAULT_SPOT_TYPE,
    RUN_TAG_KEY,
    VARS,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_sizing import (
    GB,
    SIZE_CLASSES,
    UNKNOWN,
    check_cons_cores,
    check_instance_types,
    check_region_supported,
    cost_ceiling,
    default_cons_cores,
    default_leader_storage,
    default_node_storage,
    default_node_types,
    node_counts,
    normalize_node_types,
    parse_node_type,
    single_machine_recommended,
    size_class,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_step_plan import (
    plan_prepare_toil_workers,
    prepare_toil_keys,
)
from ansible_collections.genomics.cactus.plugins.module_utils.instance_facts import toil_table_facts
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import (
    CactusError,
    check_cluster_name,
    check_cluster_name_hazards,
    check_jobstore_name,
    zone_to_region,
)

# Callers name the zone rule after what it gives.
region_of = zone_to_region

# The one error type (variable, problem, fix), under the name this module's callers know.
PlanError = CactusError


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
    cluster_type: str = DEFAULT_CLUSTER_TYPE
    node_types: list | str | None = None  # default: the seed pair with spot_bid
    min_nodes: list | str | None = None
    max_nodes: list | str | None = None
    spot_bid: float = DEFAULT_SPOT_BID  # 0: the default spot type's on-demand price (default_spot_bid)
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
    cactus_version: str = DEFAULT_CACTUS_VERSION
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
    gpu: int = DEFAULT_GPU  # cactus_gpu: GPUs per blast job (cactus --gpu N); 0 = off


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
    gpu = check_gpu_count(settings.gpu)
    check_gpu_workflow(gpu, workflow, cluster_type)
    extra = normalize_extra_options(settings.extra_options)
    gpu_types = None
    if workflow == "prepare_toil":
        workers = plan_prepare_toil_workers(settings, genomes, region, cluster_type,
                                            _positive(settings.node_storage, "node_storage"))
        node_types, mins, maxes = workers["node_types"], workers["min_nodes"], workers["max_nodes"]
        node_storage, cons_cores = workers["node_storage"], None
    else:
        node_types, mins, maxes, cons_cores = _plan_workers(settings, classes, region, cluster_type, warnings)
        check_extra_options(extra, cons_cores)
        node_storage = _positive(settings.node_storage, "node_storage") or default_node_storage(classes)
        gpu_types = _gpu_node_types(gpu, node_types, extra, settings.instance_facts)
    local_bytes = sum(g["size_on_disk"] or 0 for g in genomes if g["kind"] == "local")
    leader_storage = _leader_storage(settings.leader_storage, local_bytes, warnings)
    guide_types = workflow == "progressive" and normalize_node_types(settings.node_types) is None
    warnings += _sizing_warnings(genomes, guide_types, settings.zone)

    run_dir = settings.leader_run_dir or (f"{settings.leader_dir.rstrip('/')}/runs/{jobstore_name}"
                                          if settings.leader_dir else f"/var/lib/toil/cactus/{jobstore_name}")
    run_dir = check_leader_run_dir(run_dir, "aws")
    paths = _leader_paths(settings, run_dir, out_kind)
    leader_genomes = _place_genomes(seqfile, genomes, paths["run_dir"])
    cactus_output = settings.output if out_kind == "s3" else paths["output"]
    cactus_kwargs = dict(jobstore=jobstore, seqfile=paths["seqfile"], output=cactus_output,
                         cluster_type=cluster_type, node_types=node_types, min_nodes=mins,
                         max_nodes=maxes, node_storage=node_storage, cons_cores=cons_cores,
                         log_file=paths["log_file"], retry_count=settings.retry_count, extra_options=extra,
                         gpu=gpu)
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
        "gpu": {"count": gpu, "node_types": gpu_types} if gpu else None,
        "cactus_argv": cactus_argv(**cactus_kwargs),
        "cactus_restart_argv": cactus_argv(**cactus_kwargs, restart=True),
        "cost_per_hour": cost_ceiling(node_types, maxes, settings.leader_node_type,
                                      settings.on_demand_prices),
        "warnings": warnings,
    }
    if workflow == "prepare_toil":
        plan.update(prepare_toil_keys(plan, workers, extra, settings, paths))
    plan["summary"] = plan_summary(plan)
    return plan


def _gpu_node_types(gpu, node_types, extra, instance_facts):
    """The node types that hold a GPU blast job (Kubernetes, progressive), from the instance facts."""
    if not gpu:
        return None
    check_gpu_extra_options(gpu, check_extra_option_names(extra))
    specs = [(spec, parse_node_type(spec)[0]) for spec in node_types]
    wanted = {t for _spec, types in specs for t in types}
    facts = {t: fact for t, fact in (instance_facts or {}).items() if t in wanted}
    facts.update(toil_table_facts(sorted(wanted - set(facts))))
    return gpu_node_types(gpu, specs, facts)


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
    node_types = normalize_node_types(settings.node_types) or default_node_types(settings.spot_bid,
                                                                                 settings.on_demand_prices)
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
    if plan.get("gpu"):
        lines.append(gpu_line(plan["gpu"]["count"], f"on {', '.join(plan['gpu']['node_types'])}"))
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
    target_host = check_target_host(settings.target_host)
    batch_system = check_batch_system(settings.batch_system)
    run_dir = settings.leader_run_dir
    if not run_dir and settings.leader_dir:
        run_dir = f"{settings.leader_dir.rstrip('/')}/runs/{settings.run_name or target_host}"
    run_dir = check_leader_run_dir(check_host_run_dir(run_dir), "host")
    slurm, defaults = slurm_plan(settings, run_dir) if batch_system == "slurm" else (None, {})
    max_cores, max_memory = host_limits(settings, batch_system)
    if max_memory is None and defaults.get("max_memory"):
        max_memory = defaults["max_memory"]
        slurm["defaulted"].append("maxMemory (a node's memory)")
    cons_cores = settings.cons_cores
    if cons_cores is None and max_cores is None and defaults.get("cons_cores"):
        cons_cores = defaults["cons_cores"]
        slurm["defaulted"].append("consCores (a node's CPUs)")
    cons_cores = host_cons_cores(cons_cores, max_cores, batch_system)
    if output_kind(settings.output) != "local":
        raise PlanError(VARS["output"], "an s3:// output needs AWS, and a run on an inventory host makes "
                        "no AWS call", "give a path on the controller: the HAL is fetched back")
    extra = normalize_extra_options(settings.extra_options)
    check_extra_options(extra, cons_cores, mode="slurm" if slurm else "host")
    gpu = _host_gpu(settings.gpu, batch_system, extra)
    genomes = _genome_entries(seqfile, measurements)
    warnings += host_warnings(genomes, batch_system)

    jobstore = f"{run_dir}/jobstore"
    paths = _leader_paths(settings, run_dir, "local")
    leader_genomes = _place_genomes(seqfile, genomes, run_dir)
    cactus_kwargs = dict(jobstore=jobstore, seqfile=paths["seqfile"], output=paths["output"],
                         batch_system=batch_system, max_cores=max_cores, max_memory=max_memory,
                         cons_cores=cons_cores, log_file=paths["log_file"], retry_count=settings.retry_count,
                         extra_options=extra, slurm=slurm, gpu=gpu)
    plan = {
        "mode": "host",
        "target_host": target_host,
        "batch_system": batch_system,
        "max_cores": max_cores,
        "max_memory": max_memory,
        "cons_cores": cons_cores,
        "slurm": slurm,
        "gpu": {"count": gpu, "node_types": None} if gpu else None,
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


def _host_gpu(gpu, batch_system, extra):
    """cactus_gpu on a host: a batch system Toil gives GPUs on, and a binaries mode with KegAlign."""
    gpu = check_gpu_count(gpu)
    if gpu:
        check_gpu_host_batch_system(gpu, batch_system)
        groups = check_extra_option_names(extra)
        check_gpu_extra_options(gpu, groups)
        check_gpu_binaries_mode(gpu, binaries_mode_of(groups, "local"),
                                "a host's default: the release's binaries, which have no KegAlign")
    return gpu


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
    if plan.get("gpu"):
        lines.append(gpu_line(plan["gpu"]["count"], f"on {plan['target_host']}'s GPUs"))
    return "\n".join(lines)
