# Sizing of a run on a Toil cluster: size classes, the seed guide's table, node types and their
# counts, --consCores, disks and the cost ceiling. Pure functions; Toil's own parsers and tables
# (pinned 9.4.1) are the authority for node types and instance types, imported lazily.

from __future__ import annotations

import math
from difflib import get_close_matches
from fractions import Fraction
from functools import lru_cache

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import (
    DEFAULT_ON_DEMAND_TYPE,
    DEFAULT_SPOT_BID,
    DEFAULT_SPOT_TYPE,
    VARS,
)
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

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
LEADER_BASE_STORAGE_GB = 50  # Toil's default --leaderStorage: OS, appliance, logs
# Worker disk by the largest class aligned. Toil's default 50 GB is the classic failure (toil
# #2640: 100 fixed a small run); maintainers use 1000-4000 GB for mammals.
NODE_STORAGE_GB = {"small": 100, "nematode": 200, "bird": 500, "mammal": 1000, UNKNOWN: 1000}
DEFAULT_CONS_CORES = 32  # when no worker instance type is in Toil's table
# A Kubernetes pod asking for every vCPU of a node never schedules (system pods request a share).
KUBERNETES_CORE_HEADROOM = 1


# ---- Toil's own tables and parsers (imported lazily) --------------------------------------------

@lru_cache(maxsize=1)
def _toil_tables():
    from toil.lib.generatedEC2Lists import E2Instances, regionDict

    return E2Instances, regionDict


def _toil_parse_node_types(spec):
    from toil.provisioners import parse_node_types

    return parse_node_types(spec)


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


# The bid of a default spot node type when toil_spot_bid is 0: the type's on-demand price, which is what
# AWS caps a spot request at when it names no maximum. Spot prices stay below it, so pre-flight's "bid
# below the spot price" refusal does not stop the default, and a spot node never costs more than on
# demand. The price is yours (cactus_plan_on_demand_prices) or the Price List API's (looked up by
# default); without either, the type's Linux on-demand price in us-east-1 (USD/hour), which the seed
# guide's fixed 0.6 was below for m5.12xlarge's spot price.
FALLBACK_ON_DEMAND_PRICES = {"c4.8xlarge": 1.591, "m5.12xlarge": 2.304}


def default_spot_bid(spot_type, spot_bid=DEFAULT_SPOT_BID, on_demand_prices=None):
    """The bid of the default spot node type `spot_type`: toil_spot_bid when given (not 0), else its
    on-demand price (known, else FALLBACK_ON_DEMAND_PRICES)."""
    if spot_bid:
        return check_bid(spot_bid, VARS["spot_bid"])
    price = (on_demand_prices or {}).get(spot_type)
    return check_bid(price, VARS["on_demand_prices"]) if price else FALLBACK_ON_DEMAND_PRICES[spot_type]


def default_node_types(spot_bid=DEFAULT_SPOT_BID, on_demand_prices=None):
    """The seed guide's pair: c4.8xlarge on the spot market (default_spot_bid), r3.8xlarge on demand."""
    bid = default_spot_bid(DEFAULT_SPOT_TYPE, spot_bid, on_demand_prices)
    return [f"{DEFAULT_SPOT_TYPE}:{format_bid(bid)}", DEFAULT_ON_DEMAND_TYPE]


def check_bid(bid, variable):
    try:
        value = float(bid)
    except (TypeError, ValueError):
        raise CactusError(variable, f"spot bid {bid!r} is not a number",
                          "give USD per hour, e.g. 0.6") from None
    if not math.isfinite(value) or value <= 0:
        raise CactusError(variable, f"spot bid {bid!r} must be a positive number",
                          "give USD per hour, e.g. 0.6")
    return value


def normalize_node_types(value):
    """Accept Toil's comma-separated string or a list of node types; None when none are given."""
    if value is None or (isinstance(value, (str, list, tuple)) and not value):
        return None
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    items = [item.strip() for item in items]
    if not items or any(not item for item in items):
        raise CactusError(VARS["node_types"], f"empty node type in {value!r}",
                          "list node types like ['c4.8xlarge:0.6', 'r3.8xlarge']")
    return items


def parse_node_type(spec):
    """One node type -> (sorted instance types, bid or None), checked by Toil's parse_node_types."""
    if "," in spec:
        raise CactusError(VARS["node_types"], f"'{spec}' holds more than one node type",
                          "give one node type per list item")
    try:
        [(instance_types, bid)] = _toil_parse_node_types(spec)
    except ValueError as error:
        raise CactusError(VARS["node_types"], f"Toil cannot parse '{spec}': {error}",
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
        raise CactusError(VARS["zone"], f"region {region} is not in Toil 9.4.1's instance table "
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
            raise CactusError(variable, f"{name} is {arch}; Mesos clusters are "
                              "amd64 only", "pick an amd64 instance type or use toil_cluster_type=kubernetes")
    leader_cores = getattr(instances.get(leader_node_type), "cores", 2)
    if cluster_type == "kubernetes" and leader_cores < 2:
        raise CactusError(VARS["leader_node_type"], f"{leader_node_type} has {leader_cores} vCPU; "
                          "a Kubernetes leader needs 2 or more",
                          "pick a leader type with at least 2 vCPU, e.g. m5.large")


def _check_offered(name, variable, offered, region):
    if name in offered:
        return
    close = get_close_matches(name, offered, 1)
    hint = f"did you mean {close[0]}?" if close else "pick a type offered there"
    raise CactusError(variable, f"instance type {name} is not offered in {region} according to "
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
            raise CactusError(VARS["min_nodes"], f"minimum {low} is above the maximum {high} for "
                              f"{'/'.join(types)}", "make every minimum <= its maximum")
    if not any(maxes):
        raise CactusError(VARS["max_nodes"], "every maximum is 0: no worker could ever start",
                          "give at least one node type a maximum above 0")
    return mins, maxes


def _count_list(value, length, variable):
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        counts = [int(str(item).strip()) for item in items]
    except ValueError:
        raise CactusError(variable, f"{value!r} is not a list of whole numbers", "give e.g. [0, 0]") from None
    if len(counts) != length:
        raise CactusError(variable, f"{len(counts)} values for {length} node types",
                          "give one value per node type, in the same order")
    if any(c < 0 for c in counts):
        raise CactusError(variable, f"negative count in {counts}", "counts are 0 or more")
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
        raise CactusError(VARS["cons_cores"], f"{cons_cores!r} is not a whole number >= 1",
                          "give e.g. 32, or leave it unset for the plan's default")
    cores = [instances[t].cores for (types, _), high in zip(parsed_types, maxes, strict=True) if high
             for t in types if t in instances]
    if cores and cons_cores > max(cores):
        raise CactusError(VARS["cons_cores"], f"{cons_cores} cores is more than any worker has "
                          f"(largest: {max(cores)})", "lower it, or add a larger node type")
    if cores and cons_cores > min(cores):
        warnings.append(f"cactus_cons_cores {cons_cores} does not fit the smallest worker "
                        f"({min(cores)} vCPU): consolidated jobs can only run on the larger types")


def default_node_storage(classes):
    return NODE_STORAGE_GB[largest_class(classes)]


def default_leader_storage(local_bytes):
    """Toil's 50 GB plus room for the local genomes staged on the leader before import."""
    return LEADER_BASE_STORAGE_GB + math.ceil(local_bytes / GB)


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
