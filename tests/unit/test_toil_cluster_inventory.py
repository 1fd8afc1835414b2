"""The toil_cluster inventory plugin, run the real way (`ansible-inventory -i <dir>/toil_cluster.yml` from the
repository root, so ansible.cfg applies) against the emulated AWS of the test cloud.

One emulated account holds every scenario, made once per module with boto3 in three launch "waves"
(EC2 launch times have one-second resolution, so the waves are a little over a second apart):

  wave 0  a stranger tagged Name/clusterName=cactus, ToilNodeType=leader, but NOT in the cactus security
          group; an old cactus leader, terminated before the tests
  wave 1  leaders of cactus (kubernetes), cactus-run (hyphen-prefix name), plain (mesos), stopped-leader;
          the WORKER of bad-order; the untagged first node of untagged
  wave 2  workers: cactus x3 (one then terminated, one stopped), cactus-run, plain, stopped-leader;
          the leader of bad-order
"""

import json
import signal
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from ansible_collections.genomics.cactus.plugins.module_utils import toil_aws, toil_rules
from testcloud import AMI, FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION, ZONE, free_port, start_moto_server

TOP = Path(__file__).resolve().parents[2]

WAVE_GAP = 1.1  # seconds: EC2 LaunchTime has one-second resolution


# ---------------------------------------------------------------- helpers


def plain(value):
    """ansible-inventory's JSON marks inventory strings {"__ansible_unsafe": ...}: unwrap them."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def write_config(tmp_path: Path, name="toil_cluster.yml", **options) -> Path:
    config = {"plugin": "genomics.cactus.toil_cluster", **options}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


def ansible_inventory(cloud, config: Path, *args, env=None) -> subprocess.CompletedProcess:
    return cloud.run(
        ["ansible-inventory", "-i", str(config), *args], check=False, env=env or cloud.env(), timeout=120
    )


def listing(cloud, tmp_path, *args, env=None, **options) -> dict:
    result = ansible_inventory(cloud, write_config(tmp_path, **options), "--list", *args, env=env)
    assert result.returncode == 0, result.stderr
    return plain(json.loads(result.stdout))


def hosts_of(inventory: dict, group: str) -> list[str]:
    return sorted(inventory.get(group, {}).get("hosts", []))


def all_hosts(inventory: dict) -> list[str]:
    return sorted(inventory["_meta"]["hostvars"])


def failure(cloud, tmp_path, env=None, args=(), **options) -> str:
    """Run a listing that must fail; return its output (stdout + stderr)."""
    result = ansible_inventory(cloud, write_config(tmp_path, **options), "--list", *args, env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert FAKE_SECRET_KEY not in output
    return output


def one_error_line(output: str) -> str:
    """The plugin's message: one line, starting with 'toil_cluster inventory:'."""
    lines = [line for line in output.splitlines() if line.startswith("toil_cluster inventory:")]
    assert lines, output
    assert len(set(lines)) == 1, lines  # the same line (Ansible repeats it for the `auto` plugin)
    return lines[0]


# ---------------------------------------------------------------- the emulated account


class Account:
    def __init__(self, cloud):
        self.ec2 = cloud.client("ec2")
        self.ids: dict[str, str] = {}

    def launch(self, key, cluster, node_type, count=1, group=None, tags=None, extra_tags=None):
        group = group or cluster
        try:
            self.ec2.create_security_group(GroupName=group, Description=f"Toil cluster {group}")
        except self.ec2.exceptions.ClientError as e:
            if "Duplicate" not in str(e):
                raise
        if tags is None:
            tags = {
                "Name": cluster,
                "clusterName": cluster,
                "ToilNodeType": node_type,
                "sshKeyName": "cactus-test-key",
                "Owner": "cactus-test-key",
            }
        tags.update(extra_tags or {})
        spec = (
            [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
            if tags
            else []
        )
        instances = self.ec2.run_instances(
            ImageId=AMI,
            MinCount=count,
            MaxCount=count,
            InstanceType="t2.medium" if node_type == "leader" else "c5.large",
            SecurityGroups=[group],
            Placement={"AvailabilityZone": ZONE},
            TagSpecifications=spec,
        )["Instances"]
        for n, instance in enumerate(instances):
            self.ids[f"{key}{n}" if count > 1 else key] = instance["InstanceId"]
        return instances

    def terminate(self, key):
        self.ec2.terminate_instances(InstanceIds=[self.ids[key]])

    def stop(self, key):
        self.ec2.stop_instances(InstanceIds=[self.ids[key]])

    def describe(self, key) -> dict:
        return self.ec2.describe_instances(InstanceIds=[self.ids[key]])["Reservations"][0]["Instances"][0]


@pytest.fixture(scope="module")
def account(cloud):
    cloud.reset_account()
    acc = Account(cloud)
    k8s = {"kubernetes.io/cluster/cactus": ""}
    # wave 0
    acc.launch("stranger", "cactus", "leader", group="stranger-sg")
    acc.launch("old-leader", "cactus", "leader", extra_tags=k8s)
    acc.terminate("old-leader")
    time.sleep(WAVE_GAP)
    # wave 1
    acc.launch("cactus-leader", "cactus", "leader", extra_tags=k8s)
    acc.launch("run-leader", "cactus-run", "leader")
    acc.launch("plain-leader", "plain", "leader")
    acc.launch("stopped-leader", "stopped-leader", "leader")
    acc.launch("bad-worker", "bad-order", "worker")
    acc.launch("untagged-first", "untagged", "leader", tags={})
    time.sleep(WAVE_GAP)
    # wave 2
    acc.launch("cactus-worker", "cactus", "worker", count=3, extra_tags=k8s)
    acc.launch("run-worker", "cactus-run", "worker")
    acc.launch("plain-worker", "plain", "worker")
    acc.launch("stopped-leader-worker", "stopped-leader", "worker")
    acc.launch("bad-leader", "bad-order", "leader")
    acc.launch("untagged-second", "untagged", "leader")
    acc.terminate("cactus-worker2")
    acc.stop("cactus-worker1")
    acc.stop("stopped-leader")
    return acc


# ---------------------------------------------------------------- the leader, Toil's way


def test_leader_found_with_its_variables(cloud, account, tmp_path):
    inv = listing(cloud, tmp_path, cluster_name="cactus", zone=ZONE)
    assert hosts_of(inv, "toil_leader") == ["cactus-leader"]
    # Only the leader: no stranger, no terminated old leader, no workers, no cactus-run.
    assert all_hosts(inv) == ["cactus-leader"]
    assert "toil_workers" not in inv

    hv = inv["_meta"]["hostvars"]["cactus-leader"]
    raw = account.describe("cactus-leader")
    assert hv["toil_instance_id"] == account.ids["cactus-leader"]
    assert hv["toil_cluster_name"] == "cactus"
    assert hv["toil_node_type"] == "leader"
    assert hv["toil_state"] == "running"
    assert hv["toil_zone"] == ZONE and hv["toil_region"] == REGION
    assert hv["toil_availability_zone"] == ZONE
    assert hv["toil_public_ip"] == raw["PublicIpAddress"] and hv["toil_public_ip"].startswith("127.")
    assert hv["toil_private_ip"] == raw["PrivateIpAddress"]
    assert hv["toil_instance_type"] == "t2.medium"
    assert datetime.fromisoformat(hv["toil_launch_time"]) == raw["LaunchTime"]
    assert hv["toil_tags"]["ToilNodeType"] == "leader" and hv["toil_tags"]["clusterName"] == "cactus"
    assert hv["toil_cluster_type"] == "kubernetes"
    assert hv["ansible_host"] == raw["PublicIpAddress"]
    assert hv["ansible_user"] == "core"
    assert hv["ansible_connection"] == "genomics.cactus.toil_appliance"
    assert hv["ansible_python_interpreter"] == "/usr/bin/python3"
    home = cloud.env()["HOME"]
    assert hv["toil_known_hosts_file"] == f"{home}/.ansible/toil_known_hosts/cactus"


def test_cluster_name_and_zone_published_to_every_play(cloud, account, tmp_path):
    result = ansible_inventory(
        cloud, write_config(tmp_path, cluster_name="cactus", zone=ZONE), "--list", "--export"
    )
    all_vars = plain(json.loads(result.stdout))["all"]["vars"]
    assert all_vars["toil_cluster_name"] == "cactus"
    assert all_vars["toil_inventory_cluster_name"] == "cactus"
    assert all_vars["toil_zone"] == ZONE
    assert all_vars["toil_region"] == REGION
    assert all_vars["toil_use_private_ip"] is False and all_vars["toil_inventory_use_private_ip"] is False
    # The implicit localhost (launch and teardown plays) sees them too.
    out = cloud.run(
        [
            "ansible",
            "localhost",
            "-i",
            str(tmp_path / "toil_cluster.yml"),
            "-m",
            "debug",
            "-a",
            "msg={{ toil_inventory_cluster_name }}|{{ toil_cluster_name }}|{{ toil_zone }}",
        ]
    )
    assert "cactus|cactus|us-west-2a" in out.stdout


def test_hyphen_prefix_clusters_never_mix(cloud, account, tmp_path):
    run = listing(cloud, tmp_path, cluster_name="cactus-run", zone=ZONE, include_workers=True)
    assert hosts_of(run, "toil_leader") == ["cactus-run-leader"]
    assert run["_meta"]["hostvars"]["cactus-run-leader"]["toil_instance_id"] == account.ids["run-leader"]
    assert hosts_of(run, "toil_workers") == [f"cactus-run-{account.ids['run-worker']}"]
    cactus = listing(cloud, tmp_path, cluster_name="cactus", zone=ZONE, include_workers=True)
    ids = {hv["toil_instance_id"] for hv in cactus["_meta"]["hostvars"].values()}
    assert account.ids["run-leader"] not in ids and account.ids["run-worker"] not in ids
    # A name that is a plain prefix of both finds nothing.
    assert all_hosts(listing(cloud, tmp_path, cluster_name="cact", zone=ZONE)) == []


def test_workers_only_with_include_workers(cloud, account, tmp_path):
    inv = listing(cloud, tmp_path, cluster_name="cactus", zone=ZONE, include_workers=True)
    # Running workers only: the terminated and the stopped one are not workers (Toil's getProvisionedWorkers).
    running_worker = f"cactus-{account.ids['cactus-worker0']}"
    assert hosts_of(inv, "toil_workers") == [running_worker]
    assert hosts_of(inv, "toil_leader") == ["cactus-leader"]
    worker = inv["_meta"]["hostvars"][running_worker]
    assert worker["toil_node_type"] == "worker"
    assert worker["toil_container_name"] == ""  # kubernetes workers have no appliance
    plain_inv = listing(cloud, tmp_path, cluster_name="plain", zone=ZONE, include_workers=True)
    mesos_worker = f"plain-{account.ids['plain-worker']}"
    assert hosts_of(plain_inv, "toil_workers") == [mesos_worker]
    assert plain_inv["_meta"]["hostvars"][mesos_worker]["toil_container_name"] == "toil_worker"
    assert plain_inv["_meta"]["hostvars"]["plain-leader"]["toil_cluster_type"] == "mesos"


def test_missing_cluster_is_an_empty_group(cloud, account, tmp_path):
    result = ansible_inventory(
        cloud, write_config(tmp_path, cluster_name="no-such-cluster", zone=ZONE), "--list"
    )
    assert result.returncode == 0, result.stderr
    inv = plain(json.loads(result.stdout))
    assert "toil_leader" in inv["all"]["children"]
    assert all_hosts(inv) == []
    graph = ansible_inventory(cloud, tmp_path / "toil_cluster.yml", "--graph")
    assert "@toil_leader:" in graph.stdout


def test_leader_must_be_earliest_and_tagged(cloud, account, tmp_path):
    line = one_error_line(failure(cloud, tmp_path, cluster_name="bad-order", zone=ZONE))
    assert "'bad-order'" in line and account.ids["bad-worker"] in line
    assert "ToilNodeType=leader" in line and "ToilNodeType=worker" in line and "destroy-cluster" in line
    line = one_error_line(failure(cloud, tmp_path, cluster_name="untagged", zone=ZONE))
    assert account.ids["untagged-first"] in line and "no ToilNodeType tag" in line


def test_stopped_leader_is_still_the_leader_like_toil(cloud, account, tmp_path):
    """Toil 9.4.1 looks for the leader WITH stopped nodes: a later running worker never becomes the leader."""
    result = ansible_inventory(
        cloud, write_config(tmp_path, cluster_name="stopped-leader", zone=ZONE), "--list"
    )
    assert result.returncode == 0, result.stderr
    inv = plain(json.loads(result.stdout))
    assert hosts_of(inv, "toil_leader") == ["stopped-leader-leader"]
    hv = inv["_meta"]["hostvars"]["stopped-leader-leader"]
    assert hv["toil_instance_id"] == account.ids["stopped-leader"] and hv["toil_state"] == "stopped"
    assert "is stopped" in result.stderr


def test_use_private_ip(cloud, account, tmp_path):
    inv = listing(cloud, tmp_path, cluster_name="cactus", zone=ZONE, use_private_ip=True)
    hv = inv["_meta"]["hostvars"]["cactus-leader"]
    assert (
        hv["ansible_host"] == account.describe("cactus-leader")["PrivateIpAddress"] == hv["toil_private_ip"]
    )
    assert hv["toil_public_ip"] != hv["ansible_host"]


def test_constructed_compose_groups_keyed_groups(cloud, account, tmp_path):
    inv = listing(
        cloud,
        tmp_path,
        cluster_name="cactus",
        zone=ZONE,
        include_workers=True,
        strict=True,
        compose={"owner": "toil_tags.Owner", "ansible_python_interpreter": "'/usr/bin/python3'"},
        groups={"small_nodes": "toil_instance_type == 'c5.large'", "leaders": "toil_node_type == 'leader'"},
        keyed_groups=[{"key": "toil_instance_type", "prefix": "type"}, {"key": "owner", "prefix": "owner"}],
    )
    worker = f"cactus-{account.ids['cactus-worker0']}"
    assert inv["_meta"]["hostvars"]["cactus-leader"]["owner"] == "cactus-test-key"
    assert inv["_meta"]["hostvars"][worker]["ansible_python_interpreter"] == "/usr/bin/python3"
    assert hosts_of(inv, "small_nodes") == [worker]
    assert hosts_of(inv, "leaders") == ["cactus-leader"]
    assert hosts_of(inv, "type_t2_medium") == ["cactus-leader"]
    assert hosts_of(inv, "type_c5_large") == [worker]
    assert hosts_of(inv, "owner_cactus_test_key") == sorted(["cactus-leader", worker])


def test_name_and_zone_from_the_environment(cloud, account, tmp_path):
    env = cloud.env(TOIL_CLUSTER_NAME="cactus-run")  # TOIL_AWS_ZONE=us-west-2a is in the cloud's environment
    inv = listing(cloud, tmp_path, env=env)
    assert hosts_of(inv, "toil_leader") == ["cactus-run-leader"]
    assert inv["_meta"]["hostvars"]["cactus-run-leader"]["toil_zone"] == ZONE


def test_only_its_own_file_names(cloud, account, tmp_path):
    config = write_config(tmp_path, name="cluster.yml", cluster_name="cactus", zone=ZONE)
    result = ansible_inventory(cloud, config, "--list", "-vvv")
    assert "toil_cluster declined parsing" in result.stdout + result.stderr
    assert "cactus-leader" not in result.stdout
    for name in ("prod.toil_cluster.yaml", "toil_cluster.yaml"):
        config = write_config(tmp_path, name=name, cluster_name="cactus", zone=ZONE)
        result = ansible_inventory(cloud, config, "--graph")
        assert result.returncode == 0 and "cactus-leader" in result.stdout, (name, result.stderr)


# ---------------------------------------------------------------- the cache


def test_cache_holds_raw_api_data_and_flush_refreshes(cloud, account, tmp_path):
    acc = Account(cloud)
    acc.launch("cached", "cached-cluster", "leader")
    cache_dir = tmp_path / "cache"
    options = dict(
        cluster_name="cached-cluster",
        zone=ZONE,
        cache=True,
        cache_plugin="ansible.builtin.jsonfile",
        cache_connection=str(cache_dir),
        cache_timeout=3600,
    )
    config = write_config(tmp_path, **options)

    first = plain(json.loads(ansible_inventory(cloud, config, "--list").stdout))
    assert hosts_of(first, "toil_leader") == ["cached-cluster-leader"]
    files = list(cache_dir.iterdir())
    assert len(files) == 1
    cached = json.loads(files[0].read_text())
    if "__payload__" in cached:  # ansible-core 2.19's cache file envelope
        cached = json.loads(cached["__payload__"])
    # The raw DescribeInstances data, not the built inventory.
    assert [i["InstanceId"] for i in cached["instances"]] == [acc.ids["cached"]]
    assert "SecurityGroups" in cached["instances"][0] and "ansible_host" not in files[0].read_text()

    acc.terminate("cached")
    second = plain(json.loads(ansible_inventory(cloud, config, "--list").stdout))
    assert hosts_of(second, "toil_leader") == ["cached-cluster-leader"]  # from the cache
    flushed = plain(json.loads(ansible_inventory(cloud, config, "--list", "--flush-cache").stdout))
    assert hosts_of(flushed, "toil_leader") == []
    # The cache now holds the fresh answer.
    third = plain(json.loads(ansible_inventory(cloud, config, "--list").stdout))
    assert hosts_of(third, "toil_leader") == []

    # Another cluster name in the same file and cache directory is another cache entry, never stale data.
    other = write_config(tmp_path, **{**options, "cluster_name": "cactus"})
    assert hosts_of(plain(json.loads(ansible_inventory(cloud, other, "--list").stdout)), "toil_leader") == [
        "cactus-leader"
    ]


# ---------------------------------------------------------------- errors


def test_bad_names_and_zones(cloud, account, tmp_path):
    line = one_error_line(failure(cloud, tmp_path, cluster_name="Cactus", zone=ZONE))
    assert "lowercase" in line
    line = one_error_line(failure(cloud, tmp_path, cluster_name="cac*", zone=ZONE))
    assert "pattern" in line
    line = one_error_line(failure(cloud, tmp_path, zone=ZONE, env=cloud.env()))
    assert "no cluster name" in line
    line = one_error_line(failure(cloud, tmp_path, cluster_name="cactus", zone="us-west-2"))
    assert "'us-west-2' is a region, but an availability zone is required" in line
    line = one_error_line(failure(cloud, tmp_path, cluster_name="cactus", zone="xx-nowhere-9a"))
    assert "'xx-nowhere-9a' is in 'xx-nowhere-9', which is not an EC2 region" in line
    line = one_error_line(failure(cloud, tmp_path, cluster_name="no-such-cluster", zone="us-west-2z"))
    assert "zone 'us-west-2z' does not exist in region us-west-2" in line
    env = cloud.env()
    del env["TOIL_AWS_ZONE"]
    line = one_error_line(failure(cloud, tmp_path, cluster_name="cactus", env=env))
    assert "no zone" in line


def _no_credentials_env(cloud, tmp_path):
    env = cloud.env()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(key, None)
    (tmp_path / "empty").write_text("")
    env["AWS_SHARED_CREDENTIALS_FILE"] = env["AWS_CONFIG_FILE"] = str(tmp_path / "empty")
    return env


def test_no_credentials_and_unknown_profile(cloud, account, tmp_path):
    line = one_error_line(
        failure(cloud, tmp_path, cluster_name="cactus", zone=ZONE, env=_no_credentials_env(cloud, tmp_path))
    )
    assert line.startswith("toil_cluster inventory: AWS credentials: none found")
    line = one_error_line(failure(cloud, tmp_path, cluster_name="cactus", zone=ZONE, profile="nope"))
    assert "AWS credentials: profile 'nope' is not defined" in line


def test_endpoint_unreachable(cloud, account, tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    line = one_error_line(
        failure(cloud, tmp_path, cluster_name="cactus", zone=ZONE, env=cloud.env(AWS_ENDPOINT_URL=closed))
    )
    assert "AWS endpoint unreachable for region us-west-2 (zone us-west-2a)" in line and closed in line
    assert time.monotonic() - started < 60


def test_secret_never_shown_even_with_vvv(cloud, account, tmp_path):
    for options in ({"cluster_name": "cactus", "zone": ZONE}, {"cluster_name": "bad-order", "zone": ZONE}):
        result = ansible_inventory(cloud, write_config(tmp_path, **options), "--list", "-vvvv")
        assert FAKE_SECRET_KEY not in result.stdout + result.stderr


def test_syntax_check_never_touches_aws(cloud, tmp_path):
    """ansible-playbook --syntax-check (ansible-lint runs it on the repository's playbooks with the default
    inventory) must pass without credentials or network: no AWS call, no instance-metadata probe (the
    network guard would report one)."""
    env = _no_credentials_env(cloud, tmp_path)
    del env["AWS_EC2_METADATA_DISABLED"]
    env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path, cluster_name="cactus", zone=ZONE)
    result = cloud.run(
        ["ansible-playbook", "--syntax-check", "-i", str(config), "playbooks/teardown.yml"],
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "toil_cluster inventory:" not in result.stdout + result.stderr


def test_host_run_never_touches_aws(cloud, tmp_path):
    """-e cactus_target_hosts=HOST aims the run at a host of the user's inventory: the plugin must not ask
    AWS (no credentials, an endpoint that does not answer), and toil_leader stays empty."""
    env = _no_credentials_env(cloud, tmp_path)
    env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path, cluster_name="cactus", zone=ZONE)
    result = cloud.run(
        ["ansible-inventory", "-i", str(config), "--list", "-e", "cactus_target_hosts=labhost"],
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout).get("toil_leader", {}).get("hosts", []) == []
    assert "toil_cluster inventory:" not in result.stderr


# A second moto server with IAM authentication on: wrong keys and missing permissions.


@pytest.fixture(scope="module")
def strict_moto(tmp_path_factory):
    port = free_port()
    proc = start_moto_server(port, tmp_path_factory.mktemp("strict-moto") / "moto.log")
    try:
        endpoint = f"http://127.0.0.1:{port}"
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=FAKE_ACCESS_KEY,
            aws_secret_access_key=FAKE_SECRET_KEY,
        )
        iam.create_user(UserName="no-ec2")
        key = iam.create_access_key(UserName="no-ec2")["AccessKey"]
        # From now on every request must be signed by a known key and allowed by IAM.
        request = urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=10).read()
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_rejected_credentials_and_denied_permission(cloud, strict_moto, tmp_path):
    endpoint, key_id, secret = strict_moto
    options = {"cluster_name": "cactus", "zone": ZONE}

    unknown_key = cloud.env(AWS_ENDPOINT_URL=endpoint)  # the test cloud's key: unknown to this account
    line = one_error_line(failure(cloud, tmp_path, env=unknown_key, args=["-vvv"], **options))
    assert line.startswith("toil_cluster inventory: AWS credentials rejected by EC2 in region us-west-2"), (
        line
    )

    wrong_secret = cloud.env(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID=key_id)  # with FAKE_SECRET_KEY
    line = one_error_line(failure(cloud, tmp_path, env=wrong_secret, args=["-vvv"], **options))
    assert "AWS credentials rejected" in line  # EC2 answers AuthFailure for a bad signature

    no_permission = cloud.env(
        AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret
    )
    result = ansible_inventory(cloud, write_config(tmp_path, **options), "--list", "-vvv", env=no_permission)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and secret not in output
    line = one_error_line(output)
    assert line.startswith("toil_cluster inventory: AWS permission denied in region us-west-2"), line
    assert "ec2:DescribeInstances" in line


# ---------------------------------------------------------------- the manual


def test_ansible_doc_is_a_manual(cloud):
    out = cloud.run(["ansible-doc", "-t", "inventory", "genomics.cactus.toil_cluster"]).stdout
    for word in (
        "cluster_name",
        "zone",
        "profile",
        "use_private_ip",
        "include_workers",
        "known_hosts_dir",
        "keyed_groups",
        "compose",
        "cache_plugin",
        "EXAMPLES",
        "toil_inventory_cluster_name",
        "ToilNodeType=leader",
        "TOIL_AWS_ZONE",
    ):
        assert word in out, word


# ---------------------------------------------------------------- Toil's rules, as pure functions


def _instance(iid, launched, node_type="leader", group="c", state="running", tags=None):
    tags = {"ToilNodeType": node_type} if tags is None else tags
    return {
        "InstanceId": iid,
        "LaunchTime": launched,
        "State": {"Name": state},
        "SecurityGroups": [{"GroupName": group}],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }


def test_rules_zone_to_region_like_toil():
    from toil.lib.aws import zone_to_region

    for zone in ("us-west-2a", "eu-central-1b", "ap-southeast-3c", "il-central-1a"):
        assert toil_rules.zone_to_region(zone) == zone_to_region(zone)
    for zone in ("us-west-2", "US-WEST-2A", "", "us-west-2ab", "us-gov-west-1a-extra"):
        with pytest.raises(toil_rules.CactusError):
            toil_rules.zone_to_region(zone)


def test_rules_equal_launch_times_prefer_the_leader_tag():
    t = "2025-01-01T00:00:00+00:00"
    leader, workers = toil_aws.find_nodes(
        [_instance("i-2", t, "worker"), _instance("i-3", t, "leader"), _instance("i-1", t, "worker")], "c"
    )
    assert leader["InstanceId"] == "i-3" and [w["InstanceId"] for w in workers] == ["i-1", "i-2"]


def test_rules_only_exact_group_and_kept_states():
    t0, t1 = "2025-01-01T00:00:00+00:00", "2025-01-01T00:00:05+00:00"
    instances = [
        _instance("i-other", t0, group="c-run"),
        _instance("i-term", t0, state="terminated"),
        _instance("i-shut", t0, state="shutting-down"),
        _instance("i-lead", t1),
        _instance("i-stopped-worker", t1, "worker", state="stopped"),
    ]
    leader, workers = toil_aws.find_nodes(instances, "c")
    assert leader["InstanceId"] == "i-lead" and workers == []
    assert toil_aws.find_nodes(instances[:3], "c") == (None, [])


def test_rules_jsonable_keeps_order_of_launch_times():
    import datetime as dt

    early = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    raw = [_instance("i-b", early + dt.timedelta(seconds=1)), _instance("i-a", early, "worker")]
    assert json.loads(json.dumps(toil_aws.jsonable(raw)))[0]["LaunchTime"] == "2025-01-01T00:00:01+00:00"
    with pytest.raises(toil_rules.CactusError, match="i-a"):
        toil_aws.find_nodes(toil_aws.jsonable(raw), "c")


def test_rules_scrub():
    assert toil_aws.scrub(f"x {FAKE_SECRET_KEY} y", [FAKE_SECRET_KEY, None, ""]) == "x ******** y"
