# The workers of a cactus-prepare-toil run: node types, counts, worker disk and each step's request,
# placed from the instance facts (the plan's part for the prepare_toil workflow; cactus_plan calls it).

from __future__ import annotations

import os

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_command import cactus_option_table
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_paths import safe_name
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_prepare_toil import (
    prepare_toil_argv,
    route_extra_options,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import DEFAULT_SPOT_BID, VARS
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_sizing import (
    check_instance_types,
    default_spot_bid,
    format_bid,
    largest_class,
    node_counts,
    normalize_node_types,
    parse_node_type,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_steps import (
    default_node_storage,
    node_maxima,
    place_steps,
    size_steps,
)
from ansible_collections.genomics.cactus.plugins.module_utils.instance_facts import toil_table_facts
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError, hal_bucket

# The default workers of a prepare_toil run: each must hold the mammal steps with headroom.
# m5.12xlarge (48 vCPUs, 192 GiB) holds preprocess and blast (32 cores, 120 GiB), on the spot market
# (those jobs are short and restartable); r5.24xlarge (96 vCPUs, 768 GiB), on demand, holds align
# (64 cores, 416 GiB) and halAppend (align's memory, the HAL's disk). The seed's c4.8xlarge (60 GiB)
# holds no mammal step, and a 64-core align needs more than 64 vCPUs once the node keeps one.
PREPARE_TOIL_SPOT_TYPE = "m5.12xlarge"
PREPARE_TOIL_ON_DEMAND_TYPE = "r5.24xlarge"


def default_node_types(spot_bid=DEFAULT_SPOT_BID, on_demand_prices=None):
    bid = default_spot_bid(PREPARE_TOIL_SPOT_TYPE, spot_bid, on_demand_prices)
    return [f"{PREPARE_TOIL_SPOT_TYPE}:{format_bid(bid)}", PREPARE_TOIL_ON_DEMAND_TYPE]


def wanted_instance_types(node_types, spot_bid, leader_node_type):
    """The instance types whose facts a prepare_toil plan reads (the module asks EC2 for them)."""
    specs = normalize_node_types(node_types) or default_node_types(spot_bid)
    types = {t for spec in specs for t in parse_node_type(spec)[0]}
    return sorted(types | {leader_node_type})


def plan_prepare_toil_workers(settings, genomes, region, cluster_type, node_storage=None):
    """{node_types, min_nodes, max_nodes, node_storage (GiB), steps, placement, facts, facts_source,
    preemptible}; node_storage: the user's, checked, or None for the default."""
    variables = VARS
    node_types = normalize_node_types(settings.node_types) or default_node_types(
        settings.spot_bid, settings.on_demand_prices
    )
    parsed = [parse_node_type(spec) for spec in node_types]
    check_instance_types(parsed, settings.leader_node_type, region, cluster_type)
    classes = [g["size_class"] for g in genomes]
    steps = size_steps(largest_class(classes), len(genomes))
    storage = node_storage or default_node_storage(steps)
    wanted = {t for types, _bid in parsed for t in types}
    facts = {name: fact for name, fact in (settings.instance_facts or {}).items() if name in wanted}
    missing = sorted(wanted - set(facts))
    if missing:  # offline, or EC2 did not answer: Toil's own table
        facts.update(toil_table_facts(missing))
    unknown = sorted(wanted - set(facts))
    if unknown:
        raise CactusError(
            variables["node_types"],
            f"no facts (vCPUs, memory) for {', '.join(unknown)} from EC2 or Toil's table",
            "pick instance types EC2 offers in the region",
        )
    specs = list(zip(node_types, [types for types, _bid in parsed], strict=True))
    given = [v not in (None, "", [], ()) for v in (settings.min_nodes, settings.max_nodes)]
    if any(given):  # the user's counts, checked first; maxima of 0 switch node types off
        mins, user_maxes = node_counts(parsed, classes, settings.min_nodes, settings.max_nodes)
        specs = [spec for spec, high in zip(specs, user_maxes, strict=True) if high or not given[1]]
    placement = place_steps(steps, specs, facts, cluster_type, storage, variables)
    maxes = user_maxes if given[1] else node_maxima(node_types, placement, len(genomes))
    if not any(given):
        mins = [0] * len(node_types)
    sources = sorted({facts[t]["source"] for t in wanted})
    return {
        "node_types": node_types,
        "min_nodes": mins,
        "max_nodes": maxes,
        "node_storage": storage,
        "steps": steps,
        "placement": placement,
        "facts": {t: facts[t] for t in sorted(wanted)},
        "facts_source": " and ".join(sources),
        "preemptible": any(bid is not None for _types, bid in parsed),
    }


def hal_destination(plan, settings):
    """Where cactus-prepare-toil writes the HAL: with an AWS job store v3.2.1 wants an s3:// --outHal
    (written in the job store's region). The user's s3:// cactus_output, or a bucket the run owns,
    <job store name>--hal, kept by teardown until the HAL is fetched and verified."""
    if plan["output_kind"] == "s3":
        bucket, _slash, key = settings.output[len("s3://") :].partition("/")
        return {
            "url": settings.output,
            "bucket": bucket,
            "key": key,
            "owned": False,
            "region": plan["region"],
        }
    bucket = hal_bucket(plan["jobstore_name"])
    key = safe_name(os.path.basename(settings.output) or "out.hal")
    return {
        "url": f"s3://{bucket}/{key}",
        "bucket": bucket,
        "key": key,
        "owned": True,
        "region": plan["region"],
    }


def prepare_toil_keys(plan, workers, extra, settings, paths):
    """The plan's keys for a prepare_toil run (command lines, steps, HAL destination, option routes)."""
    top, nested, routes = route_extra_options(extra, cactus_option_table())
    hal = hal_destination(plan, settings)
    kwargs = dict(
        jobstore=plan["jobstore"],
        seqfile=paths["seqfile"],
        out_hal=hal["url"],
        batch_system=plan["cluster_type"],
        binaries_mode="singularity",
        steps=workers["steps"],
        preemptible=workers["preemptible"],
        retry_count=settings.retry_count,
        log_file=paths["log_file"],
        extra_top=top,
        cactus_options=nested,
    )
    steps = {
        name: {**request, "node_type": workers["placement"][name]}
        for name, request in workers["steps"].items()
    }
    return {
        "cactus_argv": prepare_toil_argv(**kwargs),
        "cactus_restart_argv": prepare_toil_argv(**kwargs, restart=True),
        "steps": steps,
        "instance_facts": workers["facts"],
        "hal": hal,
        "extra_options_routes": routes,
        "workflow_lines": workflow_lines(
            plan["workflow"], plan["workflow_why"], steps, workers["facts_source"], routes, hal
        ),
    }


def workflow_lines(workflow, why, steps, facts_source, routes, hal):
    """The summary's lines about the workflow: which and why, each step's request and node, routes."""
    gib = 2**30
    placed = "; ".join(
        f"{name} {s['cores']} cores {s['memory'] / gib:g} GiB {s['disk'] / gib:g} GiB disk "
        f"on {s['node_type']}"
        for name, s in steps.items()
    )
    lines = [
        f"workflow {workflow} ({why})",
        f"steps ({facts_source}): {placed}",
        f"HAL to {hal['url']}"
        + (" (a bucket of this run, kept until the HAL is fetched and verified)" if hal["owned"] else ""),
    ]
    if routes:
        lines.append("cactus_extra_options: " + ", ".join(f"{r['option']} -> {r['to']}" for r in routes))
    return lines
