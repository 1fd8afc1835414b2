"""Benchmark: find ONE Toil cluster's leader in a crowded AWS account.

The toil_cluster inventory's discovery (plugins/inventory/toil_cluster.py + plugins/module_utils/toil_aws.py)
against Toil 9.4.1's own lookup (AWSProvisioner._getLeaderInstanceBoto3), on the same emulated account:
a private moto server on a free loopback port, filled with many clusters (hyphen-prefix pairs such as
c123 / c123-run), terminated nodes and strangers carrying the target's Name tag.

Prints wall times and API call counts (counted with botocore's `before-call` event); asserts nothing.
Run it through the network namespace that has only loopback:

    tests/isolated .venv/bin/python benchmarks/inventory_discovery.py [--pairs 250 --nodes 10 --strangers 100]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "cloud"))

from testcloud import (  # noqa: E402
    AMI,
    FAKE_ACCESS_KEY,
    FAKE_SECRET_KEY,
    REGION,
    ZONE,
    assert_isolated,
    free_port,
    start_moto_server,
)

WAVE_GAP = 1.1  # EC2 launch times have one-second resolution: leaders first, workers a wave later


def load_plugin():
    spec = importlib.util.spec_from_file_location(
        "toil_cluster_inventory", TOP / "plugins/inventory/toil_cluster.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start_moto(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    return start_moto_server(port, workdir / "moto.log"), f"http://127.0.0.1:{port}"


def tags(cluster: str, node_type: str) -> list[dict]:
    values = {
        "Name": cluster,
        "clusterName": cluster,
        "ToilNodeType": node_type,
        "sshKeyName": "bench-key",
        "Owner": "bench-key",
        f"kubernetes.io/cluster/{cluster}": "",
    }
    return [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in values.items()]}]


def populate(ec2, names: list[str], nodes: int, strangers: int, target: str) -> dict:
    """Leaders of every cluster, then (one wave later) their workers, strangers and terminated nodes."""
    started = time.monotonic()
    for name in names:
        ec2.create_security_group(GroupName=name, Description=f"Toil cluster {name}")
    ec2.create_security_group(GroupName="strangers", Description="not a Toil cluster")

    def leader(name):
        return ec2.run_instances(
            ImageId=AMI,
            MinCount=1,
            MaxCount=1,
            InstanceType="t2.medium",
            SecurityGroups=[name],
            TagSpecifications=tags(name, "leader"),
        )["Instances"][0]["InstanceId"]

    def workers(name):
        ec2.run_instances(
            ImageId=AMI,
            MinCount=nodes - 1,
            MaxCount=nodes - 1,
            InstanceType="c5.large",
            SecurityGroups=[name],
            TagSpecifications=tags(name, "worker"),
        )

    leaders = {name: leader(name) for name in names}
    time.sleep(WAVE_GAP)
    if nodes > 1:
        for name in names:
            workers(name)
    if strangers:
        # The target's leader tags, outside its security group: Toil and the plugin must ignore them.
        ec2.run_instances(
            ImageId=AMI,
            MinCount=strangers,
            MaxCount=strangers,
            InstanceType="t2.micro",
            SecurityGroups=["strangers"],
            TagSpecifications=tags(target, "leader"),
        )
    # Two of the target's workers terminated (still listed by EC2 for a while).
    target_workers = [
        i["InstanceId"]
        for r in ec2.describe_instances(
            Filters=[
                {"Name": "instance.group-name", "Values": [target]},
                {"Name": "tag:ToilNodeType", "Values": ["worker"]},
            ]
        )["Reservations"]
        for i in r["Instances"]
    ]
    if len(target_workers) >= 2:
        ec2.terminate_instances(InstanceIds=target_workers[:2])
    return {"leaders": leaders, "seconds": time.monotonic() - started}


def count_calls(client) -> Counter:
    calls: Counter = Counter()
    client.meta.events.register("before-call", lambda model, **_: calls.update([model.name]))
    return calls


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """(first call, median of the next `repeat` calls) in seconds, and the last result."""
    t = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - t)
    return first, statistics.median(runs) if runs else first, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs", type=int, default=250, help="cluster name pairs cNNN / cNNN-run (default 250)"
    )
    parser.add_argument(
        "--nodes", type=int, default=10, help="instances per cluster, leader included (default 10)"
    )
    parser.add_argument(
        "--strangers", type=int, default=100, help="instances tagged like the target, not in it"
    )
    parser.add_argument("--repeat", type=int, default=15, help="timed repetitions after the first call")
    args = parser.parse_args()
    assert_isolated()

    workdir = Path(tempfile.mkdtemp(prefix="inventory-bench-"))
    (workdir / "empty").write_text("")
    proc, endpoint = start_moto(workdir)
    # Every client in this process (boto3, Toil) talks to the private moto only.
    for key in [k for k in os.environ if k.startswith(("AWS_", "TOIL_"))]:
        del os.environ[key]
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=FAKE_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=FAKE_SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        TOIL_AWS_ZONE=ZONE,
        AWS_CONFIG_FILE=str(workdir / "empty"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "empty"),
    )
    try:
        import boto3

        ec2 = boto3.client("ec2", region_name=REGION)
        names = [f"c{i:03d}" for i in range(args.pairs)] + [f"c{i:03d}-run" for i in range(args.pairs)]
        target = f"c{args.pairs // 2:03d}"
        made = populate(ec2, names, args.nodes, args.strangers, target)
        total = len(names) * args.nodes + args.strangers
        print(
            f"account: {total} instances in {len(names)} clusters (+{args.strangers} strangers tagged "
            f"{target!r}, 2 of its workers terminated), made in {made['seconds']:.1f}s"
        )
        print(
            f"target: {target!r} (its hyphen-prefix sibling {target}-run exists), "
            f"leader {made['leaders'][target]}\n"
        )

        # (a) the inventory plugin's discovery: client as the plugin makes it, one query, Toil's rules.
        plugin = load_plugin()
        rules = plugin.toil_aws
        plugin_calls: Counter = Counter()

        def plugin_discovery():
            _, client = plugin.make_ec2_client(REGION)
            calls = count_calls(client)
            raw = plugin.query_cluster(client, target, ZONE)
            plugin_calls.clear()
            plugin_calls.update(calls)
            return rules.find_nodes(raw["instances"], target, REGION)

        p_first, p_median, (p_leader, p_workers) = timed(plugin_discovery, args.repeat)

        _, warm_client = plugin.make_ec2_client(REGION)
        pw_first, pw_median, _ = timed(
            lambda: rules.find_nodes(
                plugin.query_cluster(warm_client, target, ZONE)["instances"], target, REGION
            ),
            args.repeat,
        )

        # (b) Toil's own lookup, the cheapest real way: AWSProvisioner without its constructor (which would
        # also look up subnets and more), with just what _getLeaderInstanceBoto3 reads.
        from toil.lib.aws.session import AWSConnectionManager
        from toil.provisioners.aws.awsProvisioner import AWSProvisioner

        toil_calls: Counter = Counter()

        def toil_lookup():
            provisioner = AWSProvisioner.__new__(AWSProvisioner)
            provisioner.clusterName = target
            provisioner._region = REGION
            provisioner.aws = AWSConnectionManager()
            calls = count_calls(provisioner.aws.client(REGION, "ec2"))
            leader = provisioner._getLeaderInstanceBoto3()
            toil_calls.clear()
            toil_calls.update(calls)
            return leader

        t_first, t_median, t_leader = timed(toil_lookup, args.repeat)
        warm = AWSProvisioner.__new__(AWSProvisioner)
        warm.clusterName, warm._region, warm.aws = target, REGION, AWSConnectionManager()
        tw_first, tw_median, _ = timed(warm._getLeaderInstanceBoto3, args.repeat)

        # The same lookup through the real CLI, as a user runs it (process start and Ansible included).
        inventory = workdir / "toil_cluster.yml"
        inventory.write_text(f"plugin: genomics.cactus.toil_cluster\ncluster_name: {target}\nzone: {ZONE}\n")
        env = {**os.environ, "ANSIBLE_CONFIG": str(TOP / "ansible.cfg"), "HOME": str(workdir)}
        t = time.perf_counter()
        cli = subprocess.run(
            [str(TOP / ".venv" / "bin" / "ansible-inventory"), "-i", str(inventory), "--graph"],
            cwd=TOP,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        cli_seconds = time.perf_counter() - t

        same = p_leader["InstanceId"] == t_leader["InstanceId"] == made["leaders"][target]
        print("per lookup, session and client included (as in one ansible-inventory run):")
        print(f"{'':34} {'first call':>11} {'median':>9}   API calls")
        print(f"{'(a) toil_cluster discovery':34} {p_first:10.3f}s {p_median:8.3f}s   {dict(plugin_calls)}")
        print(f"{'    same, client reused':34} {pw_first:10.3f}s {pw_median:8.3f}s")
        print(
            f"{'(b) Toil _getLeaderInstanceBoto3':34} {t_first:10.3f}s {t_median:8.3f}s   {dict(toil_calls)}"
        )
        print(f"{'    same, client reused':34} {tw_first:10.3f}s {tw_median:8.3f}s")
        print(f"{'ansible-inventory --graph (CLI)':34} {cli_seconds:10.3f}s {'':>9}   rc={cli.returncode}")
        print(
            f"\nsame leader: {same} ({p_leader['InstanceId']}); plugin workers: {len(p_workers)} "
            f"(expected {args.nodes - 3}: {args.nodes - 1} minus 2 terminated)"
        )
        print(
            f"target <= 2 s: {'yes' if p_median <= 2 and p_first <= 2 else 'NO'}; "
            f"no slower than Toil (median): {'yes' if p_median <= t_median else 'NO'} "
            f"({p_median / t_median:.2f}x)"
        )
        if cli.returncode != 0:
            print(cli.stderr[-2000:])
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
