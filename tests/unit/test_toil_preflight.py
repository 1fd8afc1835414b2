"""Pre-flight decisions (module_utils/toil_preflight.py) and the toil_preflight action's AWS calls
(module_utils/toil_preflight_run.py).

The decisions are pure functions: fed here with what AWS and ssh-agent answer. The module's AWS
calls run against moto in-process (no socket), through a stand-in for AnsibleAWSModule.
"""

import base64
import hashlib
import json
import os
import subprocess

import boto3
import pytest
from ansible_collections.genomics.cactus.plugins.module_utils.toil_preflight import (
    QUOTA_ON_DEMAND_GPU,
    QUOTA_ON_DEMAND_STANDARD,
    QUOTA_SPOT_GPU,
    QUOTA_SPOT_STANDARD,
    QUOTAS,
    PreflightError,
    agent_key_fingerprints,
    check_agent_keys,
    check_bids,
    check_cluster_hazards,
    check_hal_bucket,
    check_jobstore_bucket,
    check_leader_storage,
    check_names,
    check_offered,
    check_quota,
    ec2_fingerprint_kind,
    existing_clusters,
    is_standard_family,
    parse_agent_keys,
    parsed_node_types,
    quota_kind,
    vcpu_needs,
)
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import zone_to_region as zone_region
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

REGIONS = {"us-west-2", "us-east-1", "eu-west-1"}


def _raises(variable, fragment, func, *args, **kwargs):
    with pytest.raises(PreflightError) as caught:
        func(*args, **kwargs)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert fragment in str(caught.value) and ". Fix: " in str(caught.value)
    return str(caught.value)


# ---- names ---------------------------------------------------------------------------------------


def test_names_pass_and_give_the_region():
    assert check_names("cactus-birds", "us-west-2b", "s3://b/out.hal", REGIONS) == {
        "region": "us-west-2",
        "output_kind": "s3",
    }
    assert check_names("c1", "eu-west-1a", "runs/out.hal", REGIONS)["output_kind"] == "local"


def test_a_region_override_must_be_the_zones():
    """toil_region, checked with the names (before AWS is asked anything in the same module run)."""
    same = check_names("c1", "us-west-2a", "o.hal", REGIONS, region_override="us-west-2")
    assert same["region"] == "us-west-2"
    message = _raises("toil_region", "is not the region of toil_zone 'us-west-2a' (us-west-2)", check_names,
                      "c1", "us-west-2a", "o.hal", REGIONS, region_override="eu-west-1")
    assert message.endswith("Fix: drop the toil_region override")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Cactus", "is not lowercase letters"),
        ("cactus_run", "is not lowercase letters"),
        ("cactus--run", "is not lowercase letters"),
        ("x" * 60, "has 60 characters"),
        ("", "no cluster name"),
    ],
)
def test_bad_cluster_names_use_the_planners_rule(name, fragment):
    _raises("toil_cluster_name", fragment, check_names, name, "us-west-2a", "s3://b/o.hal", REGIONS)


def test_a_region_where_a_zone_is_required_gets_its_own_message():
    message = _raises("toil_zone", "'us-west-2' is a region", zone_region, "us-west-2")
    assert "e.g. us-west-2a" in message
    _raises("toil_zone", "is not an availability zone", zone_region, "west")
    assert zone_region("ap-southeast-2c") == "ap-southeast-2"


def test_zone_of_an_unknown_region_is_refused_before_aws_is_asked():
    _raises(
        "toil_zone", "which is not an EC2 region", check_names, "c", "xx-north-9a", "s3://b/o.hal", REGIONS
    )


def test_output_must_be_a_path_or_an_s3_url():
    _raises(
        "cactus_output",
        "is not an s3://bucket/key URL",
        check_names,
        "c",
        "us-west-2a",
        "https://example.org/o.hal",
        REGIONS,
    )


# ---- ssh-agent -----------------------------------------------------------------------------------


def _rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _ssh_line(private, comment="me@host"):
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return f"{public.decode()} {comment}"


def _imported_rsa_fingerprint(private):
    """What EC2 shows for an imported RSA key: MD5 of the public key's DER (as moto computes it)."""
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return ":".join(f"{b:02x}" for b in hashlib.md5(der).digest())  # noqa: S324


def test_agent_keys_are_parsed_from_ssh_add_output():
    key = _rsa()
    keys = parse_agent_keys(f"{_ssh_line(key, 'a b c')}\nnot a key\nssh-rsa !!!notbase64\n\n")
    assert len(keys) == 1 and keys[0]["type"] == "ssh-rsa" and keys[0]["comment"] == "a b c"


def test_imported_rsa_key_in_agent_matches():
    key = _rsa()
    result, warnings = check_agent_keys(
        "k", _imported_rsa_fingerprint(key), _ssh_line(_rsa()) + "\n" + _ssh_line(key, "the-one")
    )
    assert result["matched"] == "the-one" and result["fingerprint_kind"] == "md5" and warnings == []


def test_matches_what_moto_computes():
    moto_utils = pytest.importorskip("moto.ec2.utils")
    key = _rsa()
    fingerprint = moto_utils.public_key_fingerprint(key.public_key(), moto_utils.md5_hash)
    assert check_agent_keys("k", fingerprint, _ssh_line(key))[0]["matched"]
    edkey = ed25519.Ed25519PrivateKey.generate()
    fingerprint = moto_utils.public_key_fingerprint(edkey.public_key(), hashlib.sha256)
    assert check_agent_keys("k", fingerprint, _ssh_line(edkey))[0]["matched"]


def test_ed25519_fingerprint_in_awss_base64_form_matches():
    key = ed25519.Ed25519PrivateKey.generate()
    line = _ssh_line(key)
    blob = base64.b64decode(line.split()[1])
    aws_form = base64.b64encode(hashlib.sha256(blob).digest()).decode()  # with '=' padding
    assert ec2_fingerprint_kind(aws_form) == "sha256"
    assert check_agent_keys("k", aws_form, line)[0]["matched"]
    assert f"sha256:{aws_form.rstrip('=')}" in agent_key_fingerprints(parse_agent_keys(line)[0])


def test_wrong_key_in_agent_is_refused():
    message = _raises(
        "toil_key_pair_name",
        "none of the 2 key(s) in ssh-agent",
        check_agent_keys,
        "my-key",
        _imported_rsa_fingerprint(_rsa()),
        _ssh_line(_rsa()) + "\n" + _ssh_line(_rsa()),
    )
    assert "ssh-add the private key of 'my-key'" in message


def test_empty_agent_is_refused():
    _raises("toil_key_pair_name", "ssh-agent holds no key", check_agent_keys, "k", "aa:" * 15 + "aa", "")


def test_key_made_by_aws_cannot_be_compared_and_says_so():
    sha1 = ":".join(["ab"] * 20)
    assert ec2_fingerprint_kind(sha1) == "sha1"
    result, warnings = check_agent_keys("k", sha1, _ssh_line(_rsa()))
    assert result["matched"] is None
    assert len(warnings) == 1 and "created by AWS" in warnings[0] and "SHA1 of the private key" in warnings[0]


def test_more_than_five_keys_in_agent_warns():
    keys = [ed25519.Ed25519PrivateKey.generate() for _ in range(6)]
    text = "\n".join(_ssh_line(k) for k in keys)
    fingerprint = base64.b64encode(hashlib.sha256(base64.b64decode(_ssh_line(keys[3]).split()[1])).digest())
    result, warnings = check_agent_keys("k", fingerprint.decode(), text)
    assert result["matched"] and any("Too many authentication failures" in w for w in warnings)


# ---- existing clusters ---------------------------------------------------------------------------


def _instance(cluster, role="leader", state="running", instance_id="i-1", time="2026-01-01"):
    return {
        "InstanceId": instance_id,
        "State": {"Name": state},
        "LaunchTime": time,
        "Tags": [{"Key": "clusterName", "Value": cluster}, {"Key": "ToilNodeType", "Value": role}],
    }


def test_clusters_are_found_by_tag_security_group_and_iam_role():
    groups = [
        {"GroupName": "default", "GroupId": "sg-0", "Description": "default VPC security group"},
        {"GroupName": "web", "GroupId": "sg-1", "Description": "my web servers"},
        {"GroupName": "birds", "GroupId": "sg-2", "Description": "Toil appliance security group"},
        {"GroupName": "fish", "GroupId": "sg-3", "Description": "anything"},
    ]
    instances = [_instance("fish"), {"InstanceId": "i-9", "Tags": [{"Key": "Name", "Value": "x"}]}]
    roles = ["cactus_run_toil", "AWSServiceRoleForSupport", "toil", "odd__name_toil"]
    clusters = existing_clusters(groups, instances, roles)
    assert sorted(clusters) == ["birds", "cactus-run", "fish"]
    assert clusters["fish"]["sources"] == ["instances tagged clusterName", "security group sg-3"]
    assert clusters["cactus-run"]["sources"] == ["IAM role cactus_run_toil"]


@pytest.mark.parametrize(
    ("name", "other"), [("cactus-run", "cactus"), ("cactus", "cactus-run"), ("a-b-c", "a")]
)
def test_hyphen_prefix_names_are_refused_both_ways(name, other):
    clusters = {other: {"sources": ["security group sg-1"], "instances": []}}
    message = _raises(
        "toil_cluster_name", f"existing cluster '{other}'", check_cluster_hazards, name, clusters
    )
    assert "IAM role" in message


def test_similar_names_that_are_not_hyphen_prefixes_pass():
    clusters = {"cactus": {"sources": ["security group sg-1"], "instances": []}}
    assert "does not exist yet" in check_cluster_hazards("cactusrun", clusters)
    assert "does not exist yet" in check_cluster_hazards("run-cactus", clusters)


def test_existing_cluster_of_the_same_name_is_reported_for_reuse():
    clusters = existing_clusters(
        [],
        [
            _instance("birds", "worker", instance_id="i-2", time="2026-01-02"),
            _instance("birds", instance_id="i-1"),
        ],
        [],
    )
    report = check_cluster_hazards("birds", clusters)
    assert "already exists (leader i-1 (running)" in report and "launch will reuse it" in report


# ---- job store bucket ----------------------------------------------------------------------------


def test_job_store_bucket_verdicts():
    assert "is free" in check_jobstore_bucket("js", 404, restart=False)
    assert "restarts from it" in check_jobstore_bucket("js", 200, restart=True)
    assert "is this run's" in check_jobstore_bucket("js", 200, restart=False, this_run=True)
    _raises("toil_jobstore_name", "'js--toil' already exists", check_jobstore_bucket, "js", 200, False)
    _raises("toil_jobstore_name", "belongs to another AWS account", check_jobstore_bucket, "js", 403, False)
    _raises("toil_jobstore_name", "belongs to another AWS account", check_jobstore_bucket, "js", 403, True)
    _raises(
        "cactus_restart",
        "no job store bucket 'js--toil' to restart from",
        check_jobstore_bucket,
        "js",
        404,
        True,
    )
    _raises("toil_jobstore_name", "S3 answered 500", check_jobstore_bucket, "js", 500, False)


def test_hal_bucket_verdicts():
    assert "'js--hal' is free" in check_hal_bucket("js", 404, False, restart=False)
    assert "exists" in check_hal_bucket("js", 200, False, restart=False)
    assert "exists" in check_hal_bucket("js", 200, True, restart=True)
    assert "exists" in check_hal_bucket("js", 200, True, restart=False, this_run=True)
    _raises("toil_jobstore_name", "belongs to another AWS account", check_hal_bucket, "js", 403, False, False)
    _raises("toil_jobstore_name", "holds the HAL of an earlier run", check_hal_bucket, "js", 200, True, False)


# ---- node types, bids, quotas --------------------------------------------------------------------


def test_node_types_must_be_offered_in_the_zone():
    parsed = parsed_node_types(["c5.4xlarge/c5a.4xlarge:0.42", "r5.8xlarge"])
    offered = {"c5.4xlarge", "c5a.4xlarge", "r5.8xlarge", "m5.large"}
    assert check_offered(parsed, "m5.large", "us-west-2a", offered) == []
    warnings = check_offered(parsed, "m5.large", "us-west-2a", offered - {"c5a.4xlarge"})
    assert warnings == [
        "c5a.4xlarge (in node type 'c5.4xlarge/c5a.4xlarge:0.42') is not offered in us-west-2a: "
        "only its alternatives can start"
    ]
    _raises(
        "toil_node_types",
        "r5.8xlarge (node type 'r5.8xlarge') is not offered in zone us-west-2a",
        check_offered,
        parsed,
        "m5.large",
        "us-west-2a",
        offered - {"r5.8xlarge"},
    )
    _raises(
        "toil_leader_node_type",
        "m5.large is not offered in zone us-west-2a",
        check_offered,
        parsed,
        "m5.large",
        "us-west-2a",
        offered - {"m5.large"},
    )


def test_spot_bid_below_every_price_is_refused_with_a_bid_that_works():
    parsed = parsed_node_types(["c4.8xlarge:0.6", "r3.8xlarge"])
    message = _raises(
        "toil_node_types",
        "the spot bid $0.6/hour of 'c4.8xlarge:0.6' is below the current spot "
        "price in us-west-2a (c4.8xlarge $0.71)",
        check_bids,
        parsed,
        {"c4.8xlarge": 0.71},
        "us-west-2a",
    )
    assert "c4.8xlarge:0.86" in message  # 20% above the price, rounded up to the cent


def test_spot_bid_warnings():
    parsed = parsed_node_types(["c5.4xlarge/c5a.4xlarge:0.5"])
    assert check_bids(parsed, {"c5.4xlarge": 0.2, "c5a.4xlarge": 0.3}, "z") == []
    below_one = check_bids(parsed, {"c5.4xlarge": 0.2, "c5a.4xlarge": 0.6}, "z")
    assert len(below_one) == 1 and "only its alternatives can start" in below_one[0]
    close = check_bids(parsed, {"c5.4xlarge": 0.45, "c5a.4xlarge": 0.3}, "z")
    assert len(close) == 1 and "within 20%" in close[0]
    unpriced = check_bids(parsed, {}, "z")
    assert len(unpriced) == 1 and "no spot price" in unpriced[0]


@pytest.mark.parametrize(
    ("instance_type", "standard"),
    [
        ("c4.8xlarge", True),
        ("r3.8xlarge", True),
        ("m5.large", True),
        ("t3.micro", True),
        ("z1d.large", True),
        ("i3en.large", True),
        ("d3.xlarge", True),
        ("p3.2xlarge", False),
        ("g5.xlarge", False),
        ("x2idn.32xlarge", False),
        ("inf1.xlarge", False),
        ("hpc6a.48xlarge", False),
        ("mac1.metal", False),
        ("dl1.24xlarge", False),
        ("trn1.2xlarge", False),
        ("f1.2xlarge", False),
    ],
)
def test_standard_vcpu_quota_families(instance_type, standard):
    assert is_standard_family(instance_type) is standard


def test_vcpus_needed_per_quota():
    parsed = parsed_node_types(["c4.8xlarge:0.6", "r3.8xlarge", "c5.4xlarge/c5.9xlarge:0.4", "p3.2xlarge"])
    vcpus = {
        "c4.8xlarge": 36,
        "r3.8xlarge": 32,
        "c5.4xlarge": 16,
        "c5.9xlarge": 36,
        "p3.2xlarge": 8,
        "m5.large": 2,
    }
    needs = vcpu_needs(parsed, [20, 2, 1, 3], "m5.large", vcpus)
    assert needs == {"spot": 20 * 36 + 36, "on_demand": 2 * 32 + 2, "gpu_spot": 0, "gpu_on_demand": 0,
                     "unchecked": ["p3.2xlarge"]}


@pytest.mark.parametrize(
    ("instance_type", "spot", "kind"),
    [("g5.12xlarge", False, "gpu_on_demand"), ("g4dn.xlarge", True, "gpu_spot"), ("vt1.3xlarge", False,
     "gpu_on_demand"), ("m5.large", True, "spot"), ("p3.2xlarge", False, None), ("inf1.xlarge", True, None)],
)
def test_quota_kind_of_gpu_families(instance_type, spot, kind):
    assert quota_kind(instance_type, spot) == kind


def test_gpu_node_types_count_against_the_g_and_vt_quotas():
    """cactus_gpu's node types (G family) draw on the G and VT quotas, read like the Standard ones
    (the emulator has no Service Quotas: this is where the check is shown)."""
    parsed = parsed_node_types(["m5.12xlarge:1.2", "g5.12xlarge", "g4dn.12xlarge:1.5"])
    vcpus = {"m5.12xlarge": 48, "g5.12xlarge": 48, "g4dn.12xlarge": 48, "m5.large": 2}
    needs = vcpu_needs(parsed, [4, 2, 3], "m5.large", vcpus)
    assert needs == {"spot": 4 * 48, "on_demand": 2, "gpu_spot": 3 * 48, "gpu_on_demand": 2 * 48,
                     "unchecked": []}
    assert QUOTAS["gpu_on_demand"][0] == QUOTA_ON_DEMAND_GPU == "L-DB2E81BA"
    assert QUOTAS["gpu_spot"][0] == QUOTA_SPOT_GPU == "L-3819A6DF"
    message = _raises("toil_max_nodes", "may run 96 G and VT on-demand vCPUs at once", check_quota,
                      "gpu_on_demand", 96, 0.0, 0, QUOTA_ON_DEMAND_GPU)
    assert "--quota-code L-DB2E81BA --desired-value 96" in message
    unreadable = check_quota("gpu_spot", 144, None, 0, QUOTA_SPOT_GPU)
    assert "could not read the G and VT spot vCPU quota (L-3819A6DF)" in unreadable[0]
    assert check_quota("gpu_spot", 144, 256.0, 0, QUOTA_SPOT_GPU) == []


def test_quota_checks():
    assert check_quota("spot", 0, None, 0, QUOTA_SPOT_STANDARD) == []
    unreadable = check_quota("spot", 720, None, 0, QUOTA_SPOT_STANDARD)
    assert len(unreadable) == 1 and "could not read the spot vCPU quota (L-34B43A08)" in unreadable[0]
    message = _raises(
        "toil_max_nodes",
        "may run 720 spot vCPUs at once",
        check_quota,
        "spot",
        720,
        640.0,
        0,
        QUOTA_SPOT_STANDARD,
    )
    assert "--quota-code L-34B43A08 --desired-value 720" in message
    assert check_quota("on_demand", 66, 128.0, 0, QUOTA_ON_DEMAND_STANDARD) == []
    busy = check_quota("on_demand", 66, 128.0, 96, QUOTA_ON_DEMAND_STANDARD)
    assert len(busy) == 1 and "96 on-demand vCPUs already run" in busy[0]


# ---- the leader's disk ---------------------------------------------------------------------------


def test_local_genomes_must_fit_on_the_leader():
    genomes = [
        {"kind": "local", "size_on_disk": 30 * 10**9},
        {"kind": "local", "size_on_disk": 25 * 10**9},
        {"kind": "s3", "size_on_disk": 900 * 10**9},
    ]
    message = _raises(
        "toil_leader_storage",
        "100 GB cannot hold the 2 local genome(s) staged on the leader (55 GB)",
        check_leader_storage,
        genomes,
        100,
        "s3",
    )
    assert "raise toil_leader_storage to 105" in message and "s3:// URLs" in message
    assert check_leader_storage(genomes, 105, "s3") == []
    assert "cactus_output is a local path" in check_leader_storage(genomes, 105, "local")[0]
    assert check_leader_storage(genomes[2:], 50, "local") == []


# ---- the module's AWS calls, against moto in-process ---------------------------------------------


class ModuleFailed(Exception):
    pass


class FakeModule:
    """Just what toil_preflight's check functions use of AnsibleAWSModule."""

    def __init__(self, **params):
        defaults = {
            "ssh_auth_sock": "",
            "max_agent_keys": 5,
            "require_agent": True,
            "restart": False,
            "node_types": [],
            "max_nodes": [],
            "fail_on_quota": True,
            "genomes": [],
            "output_kind": "s3",
            "region": "us-west-2",
            "recorded_jobstore": "",
        }
        self.params = {**defaults, **params}
        self.warnings = []

    @property
    def region(self):
        return self.params["region"]

    def client(self, service, region=None, **_):
        return boto3.client(service, region_name=region or self.params["region"])

    def fail_json(self, **kwargs):
        raise ModuleFailed(kwargs["msg"])

    def warn(self, message):
        self.warnings.append(message)

    def get_bin_path(self, name):
        return name

    def run_command(self, argv, environ_update=None):
        done = subprocess.run(
            argv, capture_output=True, text=True, env={**os.environ, **(environ_update or {})}
        )
        return done.returncode, done.stdout, done.stderr


@pytest.fixture
def preflight_module():
    from ansible_collections.genomics.cactus.plugins.module_utils import toil_preflight_run

    return toil_preflight_run


@pytest.fixture
def aws(monkeypatch):
    moto = pytest.importorskip("moto")
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    with moto.mock_aws():
        yield


def test_checks_run_in_order_and_stop_at_the_first_problem(preflight_module):
    names = {"cluster_name": "birds", "zone": "us-west-2a", "output": "/data/out.hal",
             "jobstore_name": "birds-js", "staging_url": ""}
    # ssh-agent not required: its problem is a warning, and the later checks still run
    quiet = FakeModule(check=["names", "agent", "names"], require_agent=False, key_pair_name="k",
                       key_fingerprint="f", **names)
    result = preflight_module.run(quiet)
    assert result["msg"].splitlines()[0].startswith("names are usable: cluster birds")
    assert result["msg"].splitlines()[1].startswith("ssh-agent not checked: toil_key_pair_name: no ssh-agent")
    assert quiet.warnings == result["preflight_warnings"] and len(quiet.warnings) == 1
    with pytest.raises(ModuleFailed, match="toil_cluster_name: 'Birds' is not lowercase"):
        preflight_module.run(FakeModule(check=["names", "agent"], **{**names, "cluster_name": "Birds"}))


def test_module_finds_clusters_and_refuses_a_prefix_name(aws, preflight_module):
    ec2 = boto3.client("ec2", region_name="us-west-2")
    group = ec2.create_security_group(GroupName="birds", Description="Toil appliance security group")
    ec2.run_instances(
        ImageId="ami-1e749f67",
        InstanceType="t2.medium",
        MinCount=1,
        MaxCount=1,
        SecurityGroupIds=[group["GroupId"]],
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "clusterName", "Value": "birds"},
                    {"Key": "ToilNodeType", "Value": "leader"},
                ],
            }
        ],
    )
    ec2.create_tags(Resources=[group["GroupId"]], Tags=[{"Key": "Owner", "Value": "me"}])
    found, _ = preflight_module.run_clusters(FakeModule(cluster_name="birds"))
    assert found["cluster_exists"] and "launch will reuse it" in found["msg"]
    # its own security group, for the launch step to tag without asking again
    own = {"group_id": group["GroupId"], "group_name": "birds", "tags": {"Owner": "me"}}
    assert found["security_groups"] == [own]
    with pytest.raises(PreflightError, match="toil_cluster_name: 'birds-2' and the existing cluster 'birds'"):
        preflight_module.run_clusters(FakeModule(cluster_name="birds-2"))


def test_module_checks_the_job_store_bucket(aws, preflight_module):
    found, _ = preflight_module.run_jobstore(FakeModule(jobstore_name="js"))
    assert found["bucket"] == "js--toil" and not found["bucket_exists"]
    boto3.client("s3", region_name="us-west-2").create_bucket(
        Bucket="js--toil", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    with pytest.raises(PreflightError, match="already exists"):
        preflight_module.run_jobstore(FakeModule(jobstore_name="js"))
    assert preflight_module.run_jobstore(FakeModule(jobstore_name="js", restart=True))[0]["bucket_exists"]
    mine = FakeModule(jobstore_name="js", recorded_jobstore="aws:us-west-2:js")
    assert "is this run's" in preflight_module.run_jobstore(mine)[0]["msg"]
    with pytest.raises(PreflightError, match="already exists"):
        preflight_module.run_jobstore(FakeModule(jobstore_name="js", recorded_jobstore="aws:us-west-2:other"))


def test_module_checks_capacity(aws, preflight_module):
    params = {"zone": "us-west-2a", "leader_node_type": "m5.large"}
    found, warnings = preflight_module.run_capacity(
        FakeModule(node_types=["c4.8xlarge:0.6", "r3.8xlarge"], max_nodes=[10, 1], **params)
    )
    assert found["vcpus"] == {"c4.8xlarge": 36, "m5.large": 2, "r3.8xlarge": 32}
    assert found["quotas"]["spot"]["needed"] == 360 and found["quotas"]["on_demand"]["needed"] == 34
    assert set(found["spot_prices"]) == {"c4.8xlarge"}
    assert any("could not read the spot vCPU quota" in w for w in warnings)  # moto: no ec2 quotas
    with pytest.raises(PreflightError, match="below the current spot price"):
        preflight_module.run_capacity(FakeModule(node_types=["c5.xlarge:0.000001"], max_nodes=[1], **params))
    with pytest.raises(PreflightError, match="toil_max_nodes: 1 values for 2 node types"):
        preflight_module.run_capacity(
            FakeModule(node_types=["c5.xlarge", "r5.xlarge"], max_nodes=[1], **params)
        )


def test_on_demand_prices_are_read_from_a_price_list():
    from ansible_collections.genomics.cactus.plugins.module_utils.toil_aws import price_of

    product = {
        "terms": {"OnDemand": {"X.Y": {"priceDimensions": {"X.Y.Z": {"pricePerUnit": {"USD": "2.6600"}}}}}}
    }
    assert price_of([json.dumps(product)]) == 2.66
    assert price_of([]) is None


def test_module_checks_a_real_ssh_agent(tmp_path, preflight_module):
    sock = tmp_path / "agent.sock"
    out = subprocess.run(
        ["ssh-agent", "-s", "-a", str(sock)], check=True, capture_output=True, text=True
    ).stdout
    pid = int(out.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        params = {"key_pair_name": "k", "ssh_auth_sock": str(sock)}
        key = _rsa()
        fingerprint = _imported_rsa_fingerprint(key)
        with pytest.raises(PreflightError, match="ssh-agent holds no key"):
            preflight_module.run_agent(FakeModule(key_fingerprint=fingerprint, **params))
        key_file = tmp_path / "id_rsa"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            )
        )
        key_file.chmod(0o600)
        subprocess.run(["ssh-add", "-q", str(key_file)], check=True, env=env, capture_output=True)
        found, warnings = preflight_module.run_agent(FakeModule(key_fingerprint=fingerprint, **params))
        assert found["agent_keys"] == 1 and found["matched"] and warnings == []
        with pytest.raises(PreflightError, match="does not answer"):
            preflight_module.run_agent(
                FakeModule(
                    key_fingerprint=fingerprint,
                    key_pair_name="k",
                    ssh_auth_sock=str(tmp_path / "nowhere.sock"),
                )
            )
        with pytest.raises(PreflightError, match=r"no ssh-agent \(SSH_AUTH_SOCK is not set\)"):
            preflight_module.run_agent(FakeModule(key_fingerprint=fingerprint, key_pair_name="k"))
    finally:
        os.kill(pid, 15)


# ---- governed accounts -----------------------------------------------------------------------------

from ansible_collections.genomics.cactus.plugins.module_utils.toil_preflight import (  # noqa: E402 - grouped with its tests
    check_ami_found,
    check_default_subnet,
    check_extra_security_groups,
    check_instance_profile_found,
    check_pass_role,
    check_subnet,
    parse_routes,
    private_route_warnings,
)

SUBNET = {"SubnetId": "subnet-0abc1234", "AvailabilityZone": "us-west-2a", "State": "available",
          "MapPublicIpOnLaunch": False, "CidrBlock": "10.42.1.0/24", "VpcId": "vpc-1"}  # fmt: skip
PROFILE_ARN = "arn:aws:iam::123456789012:instance-profile/ops/ops-node"
PROFILE = {
    "Arn": PROFILE_ARN,
    "Roles": [{"RoleName": "ops-node", "Arn": "arn:aws:iam::123456789012:role/ops-node"}],
}


def test_toil_needs_the_zones_default_subnet_even_with_a_subnet():
    assert check_default_subnet("us-west-2a", "subnet-0def", "") is None
    _raises("toil_vpc_subnet", "set toil_vpc_subnet", check_default_subnet, "us-west-2a", None, "")
    message = _raises("toil_vpc_subnet", "looks one up even when --vpcSubnet is given",
                      check_default_subnet, "us-west-2a", None, "subnet-0abc1234")  # fmt: skip
    assert "create-default-subnet --availability-zone us-west-2a" in message


def test_subnet_exists_is_in_the_zone_and_gives_addresses_or_the_run_is_private():
    line, public = check_subnet("subnet-0abc1234", SUBNET, "us-west-2a", use_private_ip=True)
    assert not public and "gives no public addresses" in line and "vpc-1" in line
    _raises("toil_vpc_subnet", "does not exist", check_subnet, "subnet-0abc1234", None, "us-west-2a", True)
    _raises("toil_vpc_subnet", "is in zone us-west-2a, not in toil_zone us-west-2b",
            check_subnet, "subnet-0abc1234", SUBNET, "us-west-2b", True)  # fmt: skip
    message = _raises("toil_vpc_subnet", "gives instances no public address",
                      check_subnet, "subnet-0abc1234", SUBNET, "us-west-2a", False)  # fmt: skip
    assert "toil_use_private_ip: true" in message
    assert check_subnet("subnet-0abc1234", {**SUBNET, "MapPublicIpOnLaunch": True}, "us-west-2a", False)[1]


ROUTES = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
tun0\t00002A0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
"""


def test_routes_are_read_from_proc_net_route_without_the_default_one():
    assert [str(r) for r in parse_routes(ROUTES)] == ["10.42.0.0/16"]
    assert parse_routes("") == []


def test_a_private_subnet_needs_a_route_from_the_controller_best_effort():
    routes = parse_routes(ROUTES)
    assert private_route_warnings("10.42.1.0/24", False, True, routes) == []  # a VPN routes the VPC
    [warning] = private_route_warnings("10.9.1.0/24", False, True, routes, proxy_jump="ec2-user@bastion")
    assert (
        "a bastion cannot carry the launch" in warning and "toil_ssh_proxy_jump (ec2-user@bastion)" in warning
    )
    assert private_route_warnings("10.9.1.0/24", True, False, routes) == []  # public addresses
    [warning] = private_route_warnings("10.9.1.0/24", True, True, routes)
    assert "still connects to the leader's public address" in warning


def test_extra_security_groups_exist_in_the_leaders_vpc():
    groups = {"sg-0a": {"GroupName": "ops", "VpcId": "vpc-1"}, "sg-0b": {"GroupName": "x", "VpcId": "vpc-2"}}
    assert "sg-0a" in check_extra_security_groups(["sg-0a"], groups, "vpc-1", "birds")
    assert check_extra_security_groups([], groups, "vpc-1", "birds") == ""
    _raises("toil_extra_security_groups", "sg-0c does not exist",
            check_extra_security_groups, ["sg-0c"], groups, "vpc-1", "birds")  # fmt: skip
    _raises("toil_extra_security_groups", "is in VPC vpc-2",
            check_extra_security_groups, ["sg-0b"], groups, "vpc-1", "birds")  # fmt: skip
    _raises("toil_extra_security_groups", "named like the cluster",
            check_extra_security_groups, ["sg-0a"], groups, "vpc-1", "ops")  # fmt: skip


def test_instance_profile_exists_holds_a_role_and_is_safe_from_destroy():
    line, roles = check_instance_profile_found(PROFILE_ARN, PROFILE, "birds")
    assert "Toil creates no IAM role" in line and roles == ["arn:aws:iam::123456789012:role/ops-node"]
    _raises(
        "toil_instance_profile_arn", "does not exist", check_instance_profile_found, PROFILE_ARN, None, "b"
    )
    other = {**PROFILE, "Arn": "arn:aws:iam::210987654321:instance-profile/ops/ops-node"}
    _raises(
        "toil_instance_profile_arn", "is not the ARN", check_instance_profile_found, PROFILE_ARN, other, "b"
    )
    _raises("toil_instance_profile_arn", "holds no role",
            check_instance_profile_found, PROFILE_ARN, {**PROFILE, "Roles": []}, "b")  # fmt: skip
    # destroy-cluster 'ops' deletes every role and profile named 'ops_*': the role here.
    _raises(
        "toil_instance_profile_arn",
        "would delete the role ops_node",
        check_instance_profile_found,
        PROFILE_ARN,
        {**PROFILE, "Roles": [{"RoleName": "ops_node"}]},
        "ops",
    )
    assert check_pass_role(None) == [] and check_pass_role([{"EvalDecision": "allowed"}]) == []
    _raises("toil_instance_profile_arn", "iam:PassRole", check_pass_role,
            [{"EvalDecision": "implicitDeny", "EvalResourceName": "arn:aws:iam::1:role/r"}])  # fmt: skip


def test_ami_exists_and_fits_every_instance_type():
    image = {"ImageId": "ami-0abc1234", "State": "available", "Architecture": "x86_64", "Name": "flatcar"}
    assert "is available" in check_ami_found("ami-0abc1234", image, {"m5.large": "amd64"})
    _raises("toil_aws_ami", "does not exist", check_ami_found, "ami-0abc1234", None, {})
    _raises("toil_aws_ami", "but m6g.large is not",
            check_ami_found, "ami-0abc1234", image, {"m5.large": "amd64", "m6g.large": "arm64"})  # fmt: skip


def _governed_params(**params):
    defaults = {"cluster_name": "gov", "zone": "us-west-2a", "vpc_subnet": "", "use_private_ip": False,
                "proxy_jump": "", "extra_security_groups": [], "instance_profile_arn": "", "aws_ami": "",
                "node_types": [], "leader_node_type": "t2.medium", "appliance_image": ""}  # fmt: skip
    return FakeModule(**{**defaults, **params})


def test_module_checks_a_governed_account(aws, preflight_module):
    from toil.version import currentCommit

    ec2, iam = boto3.client("ec2", region_name="us-west-2"), boto3.client("iam", region_name="us-west-2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24", AvailabilityZone="us-west-2a")["Subnet"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.2.0/24", AvailabilityZone="us-west-2b")["Subnet"]
    group = ec2.create_security_group(GroupName="baseline", Description="ops", VpcId=vpc)["GroupId"]
    default_group = ec2.create_security_group(GroupName="elsewhere", Description="default VPC")["GroupId"]
    iam.create_role(RoleName="ops-node", AssumeRolePolicyDocument="{}")
    arn = iam.create_instance_profile(InstanceProfileName="ops-node")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="ops-node", RoleName="ops-node")
    # Named the way Toil names cluster ops's own profile: destroy-cluster ops deletes it.
    iam.create_role(RoleName="ops_node", AssumeRolePolicyDocument="{}")
    claimed = iam.create_instance_profile(InstanceProfileName="ops_node")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="ops_node", RoleName="ops_node")
    image = f"example.org/mirror/toil:9.4.1-{currentCommit}-py3.10"
    good = dict(vpc_subnet=subnet["SubnetId"], use_private_ip=True, extra_security_groups=[group],
                instance_profile_arn=arn, aws_ami="ami-1e749f67", appliance_image=image)  # fmt: skip

    found, warnings = preflight_module.run_governed(_governed_params(**good))
    assert found["vpc_id"] == vpc and found["public_addresses"] is False and not found["creates_iam_role"]
    assert "Toil creates no IAM role" in found["msg"] and "carries Toil's commit" in found["msg"]
    assert any("could not ask IAM's policy simulator" in w for w in warnings)  # moto has none
    found, _ = preflight_module.run_governed(_governed_params())  # the default subnet, Toil's own role
    assert found["public_addresses"] and found["creates_iam_role"] and "gov_toil" in found["msg"]

    for change, variable, fragment in [
        ({"vpc_subnet": "subnet-0000000000000000f"}, "toil_vpc_subnet", "does not exist"),
        ({"vpc_subnet": other["SubnetId"]}, "toil_vpc_subnet", "not in toil_zone us-west-2a"),
        ({"use_private_ip": False}, "toil_vpc_subnet", "gives instances no public address"),
        ({"extra_security_groups": ["sg-0000000000000000f"]}, "toil_extra_security_groups", "does not exist"),
        (
            {"extra_security_groups": [default_group]},
            "toil_extra_security_groups",
            f"the leader's subnet in VPC {vpc}",
        ),
        (
            {"instance_profile_arn": arn.replace("ops-node", "nobody")},
            "toil_instance_profile_arn",
            "does not exist",
        ),
        ({"aws_ami": "ami-0000000f"}, "toil_aws_ami", "does not exist"),
        (
            {"cluster_name": "ops", "instance_profile_arn": claimed},
            "toil_instance_profile_arn",
            "would delete the instance profile ops_node",
        ),
    ]:
        with pytest.raises(PreflightError) as caught:
            preflight_module.run_governed(_governed_params(**{**good, **change}))
        assert caught.value.variable == variable and fragment in str(caught.value), (
            change,
            str(caught.value),
        )

    # Teardown's guard: destroy-cluster 'ops' would delete profile ops_node; 'gov' leaves it.
    assert (
        "leaves instance profile"
        in preflight_module.run_profile_guard(_governed_params(instance_profile_arn=arn))[0]["msg"]
    )
    with pytest.raises(PreflightError, match="would delete the instance profile ops_node"):
        preflight_module.run_profile_guard(_governed_params(cluster_name="ops", instance_profile_arn=claimed))


def test_output_bucket_must_exist_and_be_reachable():
    from ansible_collections.genomics.cactus.plugins.module_utils.toil_preflight import check_output_bucket

    assert check_output_bucket("s3://out/a.hal", "out", 200) == "output bucket 'out' exists"
    with pytest.raises(PreflightError, match="^cactus_output: bucket 'out' of s3://out/a.hal does not exist"):
        check_output_bucket("s3://out/a.hal", "out", 404)
    with pytest.raises(PreflightError, match="^cactus_output: bucket 'out' .* not reachable .* answered 403"):
        check_output_bucket("s3://out/a.hal", "out", 403)


def test_s3_staging_url_is_checked_with_the_names():
    from ansible_collections.genomics.cactus.plugins.module_utils.toil_preflight import check_names

    found = check_names("c", "us-west-2a", "s3://b/o.hal", staging_url="s3://inputs/run-1/x")
    assert found["output_kind"] == "s3"
    for url, fragment in (("inputs/run1", "is not an s3://bucket[/prefix] URL"),
                          ("s3://inputs/run?1", "the prefix 'run?1' holds characters Toil may misread")):
        with pytest.raises(PreflightError, match="^cactus_transfer_s3_url: "):
            check_names("c", "us-west-2a", "s3://b/o.hal", staging_url=url)
        try:
            check_names("c", "us-west-2a", "s3://b/o.hal", staging_url=url)
        except PreflightError as error:
            assert fragment in str(error)


def test_module_checks_credentials_zone_and_key_pair_in_one_run(aws, preflight_module):
    made = boto3.client("ec2", region_name="us-west-2").create_key_pair(KeyName="lab-key")
    module = FakeModule(zone="us-west-2a", key_pair_name="lab-key")
    found, warnings = preflight_module.run_account(module)
    assert found["msg"] == f"AWS account {found['account']} as {found['arn']}" and not warnings
    # The agent check of the same run compares ssh-agent's keys with this fingerprint.
    assert module.params["key_fingerprint"] == found["key_fingerprint"] == made["KeyFingerprint"]
    _raises("toil_zone", "'us-west-2z' is not an available zone of us-west-2 (available there: us-west-2a",
            preflight_module.run_account, FakeModule(zone="us-west-2z", key_pair_name="lab-key"))
    _raises("toil_key_pair_name", "key pair 'other' does not exist in us-west-2 (there: lab-key)",
            preflight_module.run_account, FakeModule(zone="us-west-2a", key_pair_name="other"))


def test_module_says_when_the_credentials_do_not_work(aws, preflight_module, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-role look-up off loopback
    _raises("AWS credentials", "they do not work", preflight_module.run_account,
            FakeModule(zone="us-west-2a", key_pair_name="lab-key"))


# ---- the module's clients: one boto3 session (module_utils/aws_session.py) ------------------------


def test_clients_share_one_session_with_amazon_aws_settings(aws, monkeypatch):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    from ansible_collections.amazon.aws.plugins.module_utils.botocore import _get_user_agent_string
    from ansible_collections.genomics.cactus.plugins.module_utils import toil_aws
    from ansible_collections.genomics.cactus.plugins.module_utils.aws_session import (
        SharedAWSSession,
        aws_argument_spec,
    )

    made = []
    session_class = boto3.session.Session
    monkeypatch.setattr(boto3.session, "Session", lambda **kw: made.append(kw) or session_class(**kw))
    # amazon.aws's options as the action plugin validates them (the environment's region, no others)
    params = ArgumentSpecValidator(aws_argument_spec()).validate({}).validated_parameters
    aws = SharedAWSSession(params, lambda **result: pytest.fail(result["msg"]))
    ec2 = aws.client("ec2")
    assert aws.client("ec2") is ec2, "one client per service"
    iam = aws.client("iam", config={"retries": {"total_max_attempts": 1}})
    assert iam.meta.config.retries["total_max_attempts"] == 1
    assert _get_user_agent_string() in iam.meta.config.user_agent, "amazon.aws's user agent"
    assert aws.client("sts").get_caller_identity()["Account"]
    assert ec2.meta.region_name == aws.region == "us-west-2"
    assert len(made) == 1, "one boto3 session for every client"
    # botocore's data is read once per process, by the session and the region list alike.
    assert aws.client("sts")._loader is toil_aws.botocore_loader()
    assert "us-west-2" in toil_aws.known_regions()


def test_a_bad_setting_is_reported_as_amazon_aws_reports_it(aws):
    from ansible_collections.genomics.cactus.plugins.module_utils.aws_session import SharedAWSSession

    failed = []

    def fail_json(**result):
        failed.append(result["msg"])
        raise ModuleFailed(result["msg"])

    aws = SharedAWSSession({"region": "us-west-2", "profile": "no-such-profile"}, fail_json)
    with pytest.raises(ModuleFailed):
        aws.client("sts")
    assert failed and "no-such-profile" in failed[0], failed
