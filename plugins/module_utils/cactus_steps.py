# Size the steps of cactus-prepare-toil (preprocess, blast, align, halAppend) and place each on a node
# type that holds it: pure functions over the genomes' size classes and the instance facts
# (instance_facts: vCPUs, memory, GPUs from EC2's DescribeInstanceTypes).
#
# The anchor is what Cactus's maintainers ran for mammals (doc/progressive.md at v3.2.1, the Terra
# example): preprocess and blast 32 cores, 120 GiB, 375 GiB disk; align 64 cores, 416 GiB (32 cores,
# 208 GiB for short branches and small genomes); halAppend 3000 GiB disk. Smaller genomes get
# proportionally less (bird genomes are about half a mammal's, nematode ones a tenth or less); the
# final HAL, which halAppend holds, grows with the number of genomes, so its disk does too.

from __future__ import annotations

import math

from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

GIB = 2**30
STEPS = ("preprocess", "blast", "align", "halAppend")

# (cores, memory GiB, disk GiB) of one job of each step, by the largest size class in the run.
STEP_SIZES = {
    "mammal": {"preprocess": (32, 120, 375), "blast": (32, 120, 375), "align": (64, 416, 375)},
    "bird": {"preprocess": (16, 60, 250), "blast": (16, 60, 250), "align": (32, 208, 250)},
    "nematode": {"preprocess": (8, 30, 100), "blast": (8, 30, 100), "align": (16, 64, 100)},
    "small": {"preprocess": (4, 16, 50), "blast": (4, 16, 50), "align": (8, 32, 50)},
}
# halAppend: one core (v3.2.1 asks for 1), align's memory (v3.2.1 gives it alignMemory), and disk for
# the whole HAL: GiB per genome of the class, between HAL_DISK_MIN and the anchor's 3000 GiB
# (reached at 100 mammal-size genomes).
HAL_GIB_PER_GENOME = {"mammal": 30, "bird": 15, "nematode": 3, "small": 1}
HAL_DISK_MIN_GIB = 50
HAL_DISK_MAX_GIB = 3000

# What a node keeps for itself: on Kubernetes a core for the system pods (a pod asking for every vCPU
# never schedules); memory for the kubelet, the system pods or the Mesos agent and Toil's worker;
# disk for the OS, the container images and Toil's own files.
CORE_HEADROOM = {"kubernetes": 1, "mesos": 0}
MEMORY_HEADROOM_FRACTION = 0.10
MEMORY_HEADROOM_MIN = 2 * GIB
DISK_HEADROOM_GIB = 50


def size_steps(largest_class, genome_count):
    """{step: {"cores", "memory" (bytes), "disk" (bytes), "why"}} for a run whose largest genome is
    of `largest_class` ("unknown" counts as mammal) with `genome_count` genomes."""
    row = "mammal" if largest_class not in STEP_SIZES else largest_class
    steps = {}
    for step, (cores, memory, disk) in STEP_SIZES[row].items():
        steps[step] = {
            "cores": cores,
            "memory": memory * GIB,
            "disk": disk * GIB,
            "why": f"{row}-size genomes",
        }
    hal_gib = min(HAL_DISK_MAX_GIB, max(HAL_DISK_MIN_GIB, genome_count * HAL_GIB_PER_GENOME[row]))
    steps["halAppend"] = {
        "cores": 1,
        "memory": steps["align"]["memory"],
        "disk": hal_gib * GIB,
        "why": f"the HAL of {genome_count} {row}-size genomes",
    }
    return steps


def node_room(facts, cluster_type, node_storage_gib):
    """(cores, memory bytes, disk bytes) a job may ask of a node with these facts."""
    memory_headroom = max(MEMORY_HEADROOM_MIN, int(facts["memory"] * MEMORY_HEADROOM_FRACTION))
    return (
        facts["vcpus"] - CORE_HEADROOM[cluster_type],
        facts["memory"] - memory_headroom,
        (node_storage_gib - DISK_HEADROOM_GIB) * GIB,
    )


def fits(request, room):
    return request["cores"] <= room[0] and request["memory"] <= room[1] and request["disk"] <= room[2]


def default_node_storage(steps):
    """Worker disk, GiB: the largest step's disk plus the node's own share."""
    return math.ceil(max(s["disk"] for s in steps.values()) / GIB) + DISK_HEADROOM_GIB


def place_steps(steps, node_types, facts, cluster_type, node_storage_gib, variables):
    """{step: node type spec} for every step: the smallest node type (fewest vCPUs, then least memory)
    whose every instance type holds the step with headroom. `node_types`: [(spec, [instance types])]
    of the node types that may start. Refuses a step no node type holds, naming the variable."""

    def room_of(types):
        rooms = [node_room(facts[t], cluster_type, node_storage_gib) for t in types]
        return tuple(min(r[i] for r in rooms) for i in range(3))

    known = [(spec, types) for spec, types in node_types if all(t in facts for t in types)]
    ranked = sorted(known, key=lambda item: room_of(item[1])[:2])
    placement = {}
    for step, request in steps.items():
        holding = [spec for spec, types in ranked if fits(request, room_of(types))]
        if holding:
            placement[step] = holding[0]
            continue
        need = (
            f"{request['cores']} vCPUs, {request['memory'] / GIB:g} GiB memory and "
            f"{request['disk'] / GIB:g} GiB disk"
        )
        no_disk = [spec for spec, types in ranked if fits(dict(request, disk=0), room_of(types))]
        if no_disk:
            raise CactusError(
                variables["node_storage"],
                f"the {step} step ({request['why']}) needs {need}; "
                f"{node_storage_gib} GB per worker leaves {node_storage_gib - DISK_HEADROOM_GIB} "
                f"GiB after the node's own {DISK_HEADROOM_GIB}",
                f"raise it to at least {math.ceil(request['disk'] / GIB) + DISK_HEADROOM_GIB}, "
                "or leave it unset for the plan's default",
            )
        largest = (
            ", ".join(f"{spec} ({_room_text(room_of(types))})" for spec, types in ranked) or "none known"
        )
        raise CactusError(
            variables["node_types"],
            f"the {step} step ({request['why']}) needs {need}, and no "
            f"node type of the plan holds it with the node's own headroom: {largest}",
            f"add a node type with at least {request['cores'] + CORE_HEADROOM[cluster_type]} "
            f"vCPUs and {math.ceil(request['memory'] / GIB / (1 - MEMORY_HEADROOM_FRACTION))} GiB "
            "memory, e.g. r5.24xlarge",
        )
    return placement


def _room_text(room):
    return f"room for {room[0]} vCPUs, {room[1] / GIB:.0f} GiB"


def step_concurrency(genome_count):
    """The most jobs of each step that run at once: preprocess one per genome; blast and align one per
    subproblem of a round (at most one per two genomes); halAppend one."""
    half = max(1, math.ceil(genome_count / 2))
    return {"preprocess": max(1, genome_count), "blast": half, "align": half, "halAppend": 1}


def node_maxima(node_specs, placement, genome_count):
    """Max nodes per node type: the most jobs placed on it that run at once (one job per node)."""
    concurrency = step_concurrency(genome_count)
    return [
        max([concurrency[s] for s, spec in placement.items() if spec == node] or [0]) for node in node_specs
    ]
