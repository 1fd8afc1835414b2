# The plan of cactus_plan (its manual: plugins/modules/cactus_plan.py): parse the seqFile, measure the
# genomes, build the plan (module_utils/cactus_plan.py) and write plan.json. It runs in the controller's
# own process, from the action plugin plugins/action/cactus_plan.py.

import json
import os
import tempfile

from ansible_collections.genomics.cactus.plugins.module_utils import toil_aws
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_measure import (
    check_local_output,
    measure_genomes,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_paths import output_kind
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_plan import (
    PlanSettings,
    build_plan,
    region_of,
    require_aws_settings,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_prepare_toil import resolve_workflow
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_seqfile import parse_seqfile
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import (
    CLUSTER_TYPES,
    DEFAULT_CACTUS_VERSION,
    DEFAULT_CLUSTER_TYPE,
    DEFAULT_GPU,
    DEFAULT_HOST_BATCH_SYSTEM,
    DEFAULT_RETRY_COUNT,
    DEFAULT_SPOT_BID,
    RUN_TAG_KEY,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_sizing import (
    normalize_node_types,
    parse_node_type,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_step_plan import wanted_instance_types
from ansible_collections.genomics.cactus.plugins.module_utils.instance_facts import describe_instance_types


def write_if_changed(path, text, dry_run=False):
    """Write `text` to `path` atomically unless it is already there; True when written (dry_run: when it
    would be)."""
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return False
    except FileNotFoundError:
        pass
    if dry_run:
        return True
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".plan.", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


ARGUMENT_SPEC = dict(
    seqfile=dict(type="path", required=True),
    output=dict(type="str", required=True),
    cluster_name=dict(type="str"),
    zone=dict(type="str"),
    key_pair_name=dict(type="str"),
    target_host=dict(type="str"),
    batch_system=dict(type="str", default=DEFAULT_HOST_BATCH_SYSTEM),
    max_cores=dict(type="int"),
    max_memory=dict(type="raw"),
    host_cores=dict(type="int"),
    host_memory_mb=dict(type="int"),
    slurm_partition=dict(type="str"),
    slurm_time=dict(type="str"),
    slurm_args=dict(type="str"),
    max_jobs=dict(type="int"),
    slurm_facts=dict(type="dict"),
    owner=dict(type="str"),
    cluster_type=dict(type="str", choices=list(CLUSTER_TYPES), default=DEFAULT_CLUSTER_TYPE),
    node_types=dict(type="raw"),
    min_nodes=dict(type="raw"),
    max_nodes=dict(type="raw"),
    spot_bid=dict(type="float", default=DEFAULT_SPOT_BID),
    jobstore_name=dict(type="str"),
    leader_node_type=dict(type="str"),
    leader_storage=dict(type="int"),
    node_storage=dict(type="int"),
    cons_cores=dict(type="int"),
    retry_count=dict(type="int", default=DEFAULT_RETRY_COUNT),
    extra_options=dict(type="raw"),
    cactus_version=dict(type="str", default=DEFAULT_CACTUS_VERSION),
    on_demand_prices=dict(type="dict", default={}),
    lookup_prices=dict(type="bool", default=False),
    genome_sizes=dict(type="dict", default={}),
    offline=dict(type="bool", default=False),
    http_timeout=dict(type="int", default=10),
    existing_clusters=dict(type="list", elements="str", default=[]),
    run_tag_key=dict(type="str", default=RUN_TAG_KEY, no_log=False),
    run_tag_value=dict(type="str"),
    host_run=dict(type="bool"),
    leader_dir=dict(type="str"),
    run_name=dict(type="str"),
    leader_run_dir=dict(type="str"),
    leader_seqfile=dict(type="str"),
    leader_output=dict(type="str"),
    log_file=dict(type="str"),
    vpc_subnet=dict(type="str"),
    use_private_ip=dict(type="bool", default=False),
    instance_profile_arn=dict(type="str"),
    extra_security_groups=dict(type="list", elements="str", default=[]),
    tags=dict(type="dict", default={}),
    aws_ami=dict(type="str"),
    appliance_image=dict(type="str"),
    run_dir=dict(type="path", required=True),
    workflow=dict(type="str", choices=["auto", "prepare_toil", "progressive"], default="auto"),
    gpu=dict(type="int", default=DEFAULT_GPU),
)

SETTINGS_KEYS = ("cluster_name", "zone", "key_pair_name", "output", "jobstore_name", "owner",
                 "cluster_type", "node_types", "min_nodes", "max_nodes", "spot_bid", "leader_node_type",
                 "leader_storage", "node_storage", "cons_cores", "retry_count", "extra_options",
                 "on_demand_prices", "existing_clusters", "leader_run_dir", "leader_seqfile",
                 "leader_output", "log_file", "cactus_version", "target_host", "batch_system", "max_cores",
                 "max_memory", "host_cores", "host_memory_mb", "leader_dir", "run_name", "vpc_subnet",
                 "use_private_ip", "instance_profile_arn", "extra_security_groups", "tags", "aws_ami",
                 "appliance_image", "slurm_partition", "slurm_time", "slurm_args", "max_jobs", "slurm_facts",
                 "workflow", "gpu")
# Empty values mean "from the plan" or "not used" (the roles' defaults: [], {}, 0, ""), as if not given.
FROM_THE_PLAN = ("node_types", "min_nodes", "max_nodes", "leader_node_type", "leader_storage", "node_storage",
                 "cons_cores", "max_cores", "max_memory", "jobstore_name", "leader_dir", "run_name",
                 "vpc_subnet", "instance_profile_arn", "aws_ami", "appliance_image", "slurm_partition",
                 "slurm_time", "slurm_args", "max_jobs", "slurm_facts")


def make_plan(params):
    """Parse, measure and plan from module parameters; raises CactusError or MeasureError."""
    seqfile = parse_seqfile(params["seqfile"])
    params = dict(params)
    for key in FROM_THE_PLAN:
        if params[key] in ("", [], {}, 0):
            params[key] = None
    # host_run decides; without it, a target_host means a host run. The other mode's settings are ignored.
    if params["host_run"] is False:
        params["target_host"] = None
    # Not given: the planner's own default (PlanSettings, the one source of the defaults).
    settings = PlanSettings(**{key: params[key] for key in SETTINGS_KEYS if params[key] is not None},
                            run_tag_key=params["run_tag_key"], run_tag_value=params["run_tag_value"])
    if output_kind(settings.output) == "local":
        check_local_output(settings.output)
    host_run = bool(settings.target_host)
    region = None
    if not host_run:  # a host run has no zone, and makes no AWS call
        require_aws_settings(settings)
        region = region_of(params["zone"])
    measured = measure_genomes(seqfile, offline=params["offline"], region=region,
                               timeout=params["http_timeout"], known_sizes=params["genome_sizes"],
                               host_run=host_run)
    if not host_run and not params["offline"]:
        settings.instance_facts = _instance_facts(settings, region)
    plan = build_plan(seqfile, measured, settings)
    if params["lookup_prices"] and not host_run:
        plan = _with_prices(plan, seqfile, measured, settings, region)
    for genome in plan["genomes"]:  # what identifies a URL's content, for the run record
        for key in ("etag", "last_modified"):
            if measured.get(genome["name"], {}).get(key):
                genome[key] = measured[genome["name"]][key]
    return plan


def _instance_facts(settings, region):
    """vCPUs, memory and GPUs of the instance types a prepare_toil plan may use, from EC2
    (DescribeInstanceTypes); None when the workflow is progressive or EC2 does not answer (the
    planner then reads Toil's table, and says so in the plan's steps line)."""
    workflow = resolve_workflow(settings.workflow, settings.cluster_type)[0]
    if workflow != "prepare_toil" and not settings.gpu:  # GPU blast reads the GPUs of the node types
        return None
    types = wanted_instance_types(settings.node_types, settings.spot_bid, settings.leader_node_type)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return describe_instance_types(region, types)
    except (BotoCoreError, ClientError):  # Toil's table then, named in the plan
        return None


def _with_prices(plan, seqfile, measured, settings, region):
    """The plan again (pure and quick: nothing is measured twice) with the on-demand prices found."""
    wanted = {plan["leader_node_type"]}
    for spec in plan["node_types"]:
        types, bid = parse_node_type(spec)
        if bid is None:  # spot node types cost at most their bid
            wanted.update(types)
    if not settings.spot_bid and not normalize_node_types(settings.node_types):
        # toil_spot_bid 0: the default spot type's bid is its on-demand price (default_spot_bid)
        wanted.update(parse_node_type(plan["node_types"][0])[0])
    missing = sorted(wanted - set(settings.on_demand_prices))
    found, problem = toil_aws.on_demand_prices(region, missing) if missing else ({}, None)
    if found:
        settings.on_demand_prices = {**found, **settings.on_demand_prices}
        plan = build_plan(seqfile, measured, settings)
    if problem:
        plan["warnings"].append(f"on-demand prices unknown (AWS Price List API: {problem}): the plan's "
                                "cost ceiling leaves them out")
    return plan


def run(params, check_mode=False):
    """Plan from the options (ARGUMENT_SPEC) and write run_dir/plan.json unless it holds this plan already
    (check_mode: only say whether it would change): {changed, plan, plan_file, msg}. Raises CactusError
    (its variable named) or MeasureError (a genome of the seqFile)."""
    plan = make_plan(params)
    plan_file = os.path.join(params["run_dir"], "plan.json")
    text = json.dumps(plan, indent=2, sort_keys=True) + "\n"
    changed = write_if_changed(plan_file, text, dry_run=check_mode)
    return {"changed": changed, "plan": plan, "plan_file": plan_file, "msg": plan["summary"]}
