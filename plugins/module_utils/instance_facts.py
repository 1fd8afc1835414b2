# What an EC2 instance type offers a Toil job: vCPUs, memory and GPUs, from EC2's own
# DescribeInstanceTypes (the authority; the emulator in the tests answers it too). Sizing reads these
# facts, never a hand-written table. Offline plans fall back to Toil 9.4.1's instance table (vCPUs and
# memory only: it knows no GPUs), and say so.

from __future__ import annotations

GIB = 2**30
MIB = 2**20


def facts_from_answer(instance_types):
    """{type: {"vcpus", "memory" (bytes), "gpus", "gpu_memory" (bytes per GPU), "gpu_name",
    "architectures", "source"}} from the InstanceTypes of DescribeInstanceTypes answers."""
    facts = {}
    for item in instance_types:
        gpus = (item.get("GpuInfo") or {}).get("Gpus") or []
        count = sum(g.get("Count", 0) for g in gpus)
        gpu_memory = min((g.get("MemoryInfo", {}).get("SizeInMiB", 0) for g in gpus), default=0) * MIB
        facts[item["InstanceType"]] = {
            "vcpus": item["VCpuInfo"]["DefaultVCpus"],
            "memory": item["MemoryInfo"]["SizeInMiB"] * MIB,
            "gpus": count,
            "gpu_memory": gpu_memory,
            "gpu_name": gpus[0].get("Name") if gpus else None,
            "architectures": list(item.get("ProcessorInfo", {}).get("SupportedArchitectures", [])),
            "source": "DescribeInstanceTypes",
        }
    return facts


def describe_instance_types(region, types):
    """Facts of `types` in `region` from EC2 (boto3 finds the credentials). Unknown types are left
    out: EC2 answers InvalidInstanceType for the whole call, so they are asked one at a time then."""
    import boto3
    from botocore.exceptions import ClientError

    ec2 = boto3.client("ec2", region_name=region)
    wanted = sorted(set(types))
    try:
        answer = ec2.describe_instance_types(InstanceTypes=wanted)["InstanceTypes"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "InvalidInstanceType":
            raise
        answer = []
        for name in wanted:
            try:
                answer += ec2.describe_instance_types(InstanceTypes=[name])["InstanceTypes"]
            except ClientError as inner:
                if inner.response.get("Error", {}).get("Code") != "InvalidInstanceType":
                    raise
    return facts_from_answer(answer)


def toil_table_facts(types):
    """Offline fallback: Toil 9.4.1's own instance table (memory in GiB there; no GPU facts)."""
    from toil.lib.generatedEC2Lists import E2Instances

    facts = {}
    for name in types:
        known = E2Instances.get(name)
        if known is None:
            continue
        facts[name] = {
            "vcpus": known.cores,
            "memory": int(known.memory * GIB),
            "gpus": 0,
            "gpu_memory": 0,
            "gpu_name": None,
            "architectures": [getattr(known, "architecture", "amd64")],
            "source": "Toil's instance table",
        }
    return facts
