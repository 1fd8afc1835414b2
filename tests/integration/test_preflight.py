"""Pre-flight (--tags prereqs,plan) against the local test cloud: each bad input fails before any
AWS resource exists, with a message naming the variable to fix; a good input writes plan.json.

Every case is a real `ansible-playbook run_alignment.yml --tags prereqs,plan` run. The runs are
started together (a few at a time) by one module fixture, because each costs a few seconds of
mostly Ansible start-up; every case is still its own test with its own output on failure.
"""

import collections
import functools
import gzip
import http.server
import json
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from testcloud import AMI, KEY_PAIR, TOP, ZONE

pytestmark = pytest.mark.cloud

EXISTING_CLUSTER = "pf-exist"  # made cheaply below: a security group and an instance with Toil's tags
TAKEN_JOBSTORE = "pf-taken"  # its bucket pf-taken--toil exists
INPUT_BUCKET = "pf-inputs"  # holds genome c.fa for the good seqFile
OUTPUT_BUCKET = "pf-outputs"  # the good run's output goes there
GOOD = "pf-good"
PARALLEL = 3

FASTA = ">chr1\nACGTACGTACGTNNNNACGT\n"
SEQFILES = {
    "good.txt": "((a:0.1,b:0.2):0.05,c:0.3);\na genomes/a.fa\nb genomes/b.fa.gz\nc s3://pf-inputs/c.fa\n",
    "duplicate.txt": "(a:0.1,b:0.2);\na genomes/a.fa\nb genomes/a.fa\na genomes/a.fa\n",
    "leaf_without_genome.txt": "((a:0.1,b:0.2):0.05,z:0.3);\na genomes/a.fa\nb genomes/a.fa\n",
    "multifurcation.txt": "(a:0.1,b:0.2,c:0.3);\na genomes/a.fa\nb genomes/a.fa\nc genomes/a.fa\n",
    "missing_fasta.txt": "(a:0.1,b:0.2);\na genomes/a.fa\nb genomes/nowhere.fa\n",
    "not_fasta.txt": "(a:0.1,b:0.2);\na genomes/a.fa\nb genomes/readme.txt\n",
    "missing_s3.txt": "(a:0.1,b:0.2);\na genomes/a.fa\nb s3://pf-inputs/missing.fa\n",
    "huge.txt": "(a:0.1,b:0.2);\na genomes/a.fa\nb genomes/huge.fa\n",
}

# (id, -e overrides, environment changes, expected fragments). Every fragment starts with the
# variable to change (or, for ssh-agent and credentials, names what to fix). "@x" is a file or agent
# of the fixture. The order of the list is the order of the checks.
LONG_NAME = "pf-" + "x" * 57
BAD = [
    # settings: required variables, names (no AWS request yet)
    (
        "cluster-name-missing",
        {"toil_cluster_name": ""},
        {},
        "toil_cluster_name: not set. Fix: set cluster_name in inventory/toil_cluster.yml",
    ),
    (
        "all-required-missing",
        {"toil_zone": "", "toil_key_pair_name": "", "cactus_seqfile": "", "cactus_output": ""},
        {},
        (
            "toil_zone: not set. Fix: set zone in inventory/toil_cluster.yml",
            "toil_key_pair_name: not set. Fix:",
            "cactus_seqfile: not set. Fix:",
            "cactus_output: not set. Fix:",
        ),
    ),
    (
        "cluster-name-uppercase",
        {"toil_cluster_name": "Pf-Run"},
        {},
        "toil_cluster_name: 'Pf-Run' is not lowercase letters, digits and single hyphens",
    ),
    (
        "cluster-name-underscore",
        {"toil_cluster_name": "pf_run"},
        {},
        "toil_cluster_name: 'pf_run' is not lowercase letters",
    ),
    (
        "cluster-name-too-long",
        {"toil_cluster_name": LONG_NAME},
        {},
        f"toil_cluster_name: '{LONG_NAME}' has 60 characters; Toil's IAM role",
    ),
    (
        "region-instead-of-zone",
        {"toil_zone": "us-west-2"},
        {},
        "toil_zone: 'us-west-2' is a region, but an availability zone is required",
    ),
    (
        "zone-in-no-region",
        {"toil_zone": "xx-north-9a"},
        {},
        "toil_zone: 'xx-north-9a' is in 'xx-north-9', which is not an EC2 region",
    ),
    (
        "output-not-path-or-s3",
        {"cactus_output": "https://example.org/out.hal"},
        {},
        "cactus_output: 'https://example.org/out.hal' is not an s3://bucket/key URL or a local path",
    ),
    (
        "cluster-type-unknown",
        {"toil_cluster_type": "swarm"},
        {},
        "value of toil_cluster_type must be one of: kubernetes, mesos, got: swarm",
    ),
    # credentials
    (
        "aws-credentials-missing",
        {},
        {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
        "AWS credentials: they do not work",
    ),
    # the plan, in check mode: seqFile and genomes, job store name, node types and counts
    (
        "seqfile-not-found",
        {"cactus_seqfile": "@nowhere.txt"},
        {},
        "cactus_seqfile: @nowhere.txt: file not found",
    ),
    (
        "seqfile-duplicate-name",
        {"cactus_seqfile": "@duplicate.txt"},
        {},
        "cactus_seqfile: @duplicate.txt: line 4: duplicate genome name 'a'",
    ),
    (
        "seqfile-leaf-without-genome",
        {"cactus_seqfile": "@leaf_without_genome.txt"},
        {},
        "cactus_seqfile: @leaf_without_genome.txt: line 1: tree leaves without a genome line: z",
    ),
    (
        "seqfile-multifurcation",
        {"cactus_seqfile": "@multifurcation.txt"},
        {},
        "cactus_seqfile: @multifurcation.txt: line 1: node (unnamed) has 3 children",
    ),
    (
        "seqfile-fasta-missing",
        {"cactus_seqfile": "@missing_fasta.txt"},
        {},
        "cactus_seqfile: @missing_fasta.txt: line 3: genome 'b' (genomes/nowhere.fa):",
    ),
    (
        "seqfile-not-fasta",
        {"cactus_seqfile": "@not_fasta.txt"},
        {},
        "cactus_seqfile: @not_fasta.txt: line 3: genome 'b' (genomes/readme.txt):",
    ),
    (
        "seqfile-s3-object-missing",
        {"cactus_seqfile": "@missing_s3.txt"},
        {},
        "cactus_seqfile: @missing_s3.txt: line 3: genome 'b' (s3://pf-inputs/missing.fa): S3 says",
    ),
    ("jobstore-too-short", {"toil_jobstore_name": "ab"}, {}, "toil_jobstore_name: Toil refuses 'ab'"),
    (
        "jobstore-double-hyphen",
        {"toil_jobstore_name": "pf--store"},
        {},
        "toil_jobstore_name: Toil refuses 'pf--store'",
    ),
    (
        "jobstore-uppercase",
        {"toil_jobstore_name": "PfStore"},
        {},
        "toil_jobstore_name: Toil refuses 'PfStore'",
    ),
    (
        "min-above-max",
        {"toil_node_types": ["c5.xlarge"], "toil_min_nodes": [3], "toil_max_nodes": [1]},
        {},
        "toil_min_nodes: minimum 3 is above the maximum 1",
    ),
    (
        "node-lists-different-lengths",
        {"toil_node_types": ["c5.xlarge:0.5", "r5.xlarge"], "toil_max_nodes": [2]},
        {},
        "toil_max_nodes: 1 values for 2 node types",
    ),
    (
        "step-fits-no-node-type",
        {"toil_node_types": ["c5.xlarge:0.5"]},
        {},
        "toil_node_types: the preprocess step (small-size genomes) needs 4 vCPUs, 16 GiB memory",
    ),
    (
        "extra-options-unknown",
        {"cactus_extra_options": ["--rooot", "mr"]},
        {},
        "cactus_extra_options: '--rooot' is not an option of cactus v3.2.1 (its own options and Toil "
        "9.4.1's). Fix: did you mean --root?",
    ),
    (
        "gpu-on-prepare-toil",
        {"cactus_gpu": 2},
        {},
        "cactus_gpu: 2 GPUs with cactus_workflow=prepare_toil: cactus-prepare-toil v3.2.1 passes --gpu to "
        "cactus-blast but asks Toil for no GPU for its blast job",
    ),
    (
        "output-is-a-directory",
        {"cactus_output": "@genomes"},
        {},
        "cactus_output: '@genomes' is a directory, and the HAL is one file",
    ),
    (
        "release-unreachable",
        {"cactus_provision_release_base_url": "http://127.0.0.1:9/nothing"},
        {},
        "cactus_provision_release_base_url: Cactus v3.2.1 cannot be downloaded from "
        "http://127.0.0.1:9/nothing/v3.2.1/cactus-bin-v3.2.1.tar.gz",
    ),
    (
        "extra-options-metrics-jobstore",
        {"cactus_extra_options": ["--metrics", "aws:us-west-2:js"]},
        {},
        "cactus_extra_options: --metrics takes a boolean since Toil 6",
    ),
    # a governed account's settings, as far as the plan can tell without AWS
    (
        "tags-reserved-prefix",
        {"toil_tags": {"aws:team": "genomics"}},
        {},
        "toil_tags: tag key 'aws:team' starts with 'aws:', which AWS reserves",
    ),
    (
        "appliance-image-unpinned",
        {"toil_appliance_image": "quay.io/ucsc_cgl/toil:latest"},
        {},
        "toil_appliance_image: 'quay.io/ucsc_cgl/toil:latest' is not pinned",
    ),
    (
        "instance-profile-destroy-would-delete",
        {"toil_instance_profile_arn": "@claimed_profile"},
        {},
        f"toil_instance_profile_arn: toil destroy-cluster {GOOD} would delete the instance profile "
        "pf_good_node",
    ),
    # the zone, the key pair, ssh-agent
    (
        "zone-unknown",
        {"toil_zone": "us-west-2z"},
        {},
        "toil_zone: 'us-west-2z' is not an available zone of us-west-2",
    ),
    (
        "key-pair-unknown",
        {"toil_key_pair_name": "no-such-key"},
        {},
        "toil_key_pair_name: key pair 'no-such-key' does not exist in us-west-2",
    ),
    (
        "ssh-agent-none",
        {},
        {"SSH_AUTH_SOCK": None},
        "toil_key_pair_name: no ssh-agent (SSH_AUTH_SOCK is not set)",
    ),
    ("ssh-agent-empty", {}, {"SSH_AUTH_SOCK": "@empty_agent"}, "toil_key_pair_name: ssh-agent holds no key"),
    (
        "ssh-agent-wrong-key",
        {},
        {"SSH_AUTH_SOCK": "@other_agent"},
        "toil_key_pair_name: none of the 1 key(s) in ssh-agent",
    ),
    # the account: existing clusters, the job store bucket
    (
        "cluster-name-extends-existing",
        {"toil_cluster_name": f"{EXISTING_CLUSTER}-two"},
        {},
        f"toil_cluster_name: '{EXISTING_CLUSTER}-two' and the existing cluster '{EXISTING_CLUSTER}'",
    ),
    (
        "cluster-name-prefix-of-existing",
        {"toil_cluster_name": "pf"},
        {},
        f"toil_cluster_name: 'pf' and the existing cluster '{EXISTING_CLUSTER}'",
    ),
    (
        "jobstore-bucket-taken",
        {"toil_jobstore_name": TAKEN_JOBSTORE},
        {},
        f"toil_jobstore_name: job store bucket '{TAKEN_JOBSTORE}--toil' already exists",
    ),
    (
        "restart-without-jobstore",
        {"cactus_restart": True},
        {},
        f"cactus_restart: there is no job store bucket '{GOOD}-jobstore--toil' to restart from",
    ),
    (
        "output-bucket-missing",
        {"cactus_output": "s3://pf-no-bucket/good.hal"},
        {},
        "cactus_output: bucket 'pf-no-bucket' of s3://pf-no-bucket/good.hal does not exist",
    ),
    # capacity: offerings, spot bids, the leader's disk
    (
        "node-type-not-offered-in-zone",
        # progressive: on prepare_toil the plan already refuses a type that holds no step
        {"toil_zone": "us-west-2c", "toil_node_types": ["c5ad.xlarge"], "cactus_workflow": "progressive"},
        {},
        "toil_node_types: c5ad.xlarge (node type 'c5ad.xlarge') is not offered in zone us-west-2c",
    ),
    (
        "spot-bid-below-price",
        {"toil_node_types": ["c5.xlarge:0.000001", "r5.xlarge"], "cactus_workflow": "progressive"},
        {},
        "toil_node_types: the spot bid $0.000001/hour of 'c5.xlarge:0.000001' is below the current spot "
        "price in us-west-2a (c5.xlarge $0.00001)",
    ),
    (
        "leader-storage-too-small",
        {"cactus_seqfile": "@huge.txt", "toil_leader_storage": 100},
        {},
        "toil_leader_storage: 100 GB cannot hold the 2 local genome(s) staged on the leader (61 GB)",
    ),
    # a governed account: subnet, addressing, extra security groups, instance profile, image
    (
        "subnet-unknown",
        {"toil_vpc_subnet": "subnet-0000000000000000f"},
        {},
        "toil_vpc_subnet: subnet subnet-0000000000000000f does not exist in this region",
    ),
    (
        "subnet-in-another-zone",
        {"toil_vpc_subnet": "@subnet_b"},
        {},
        "is in zone us-west-2b, not in toil_zone us-west-2a",
    ),
    (
        "subnet-without-public-addresses",
        {"toil_vpc_subnet": "@subnet_a"},
        {},
        "gives instances no public address (MapPublicIpOnLaunch is off)",
    ),
    (
        "extra-security-group-unknown",
        {"toil_extra_security_groups": ["sg-0000000000000000f"]},
        {},
        "toil_extra_security_groups: security group sg-0000000000000000f does not exist",
    ),
    (
        "extra-security-group-other-vpc",
        {
            "toil_vpc_subnet": "@subnet_a",
            "toil_use_private_ip": True,
            "toil_extra_security_groups": ["@default_group"],
        },
        {},
        "the leader's subnet in VPC vpc-",
    ),
    (
        "instance-profile-unknown",
        {"toil_instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/pf-nobody"},
        {},
        "toil_instance_profile_arn: instance profile pf-nobody does not exist in this account",
    ),
    ("ami-unknown", {"toil_aws_ami": "ami-0000000f"}, {}, "toil_aws_ami: image ami-0000000f does not exist"),
]

# The checks of what the plan needs (toil_capacity: capacity and the governed account), after the plan.
READ_THE_PLAN = {
    "node-type-not-offered-in-zone", "spot-bid-below-price", "leader-storage-too-small", "subnet-unknown",
    "subnet-in-another-zone", "subnet-without-public-addresses", "extra-security-group-unknown",
    "extra-security-group-other-vpc", "instance-profile-unknown", "ami-unknown",
}

# Runs that pass, or show something besides a failure: (-e overrides, environment, extra arguments).
OTHER = {
    "good": ({}, {}, []),
    "good-check-mode": ({}, {}, ["--check"]),
    "bad-check-mode": ({"toil_jobstore_name": TAKEN_JOBSTORE}, {}, ["--check"]),
    # A re-run of a run that was started: its record names the (existing) job store bucket.
    "rerun-of-a-started-run": ({"toil_jobstore_name": TAKEN_JOBSTORE}, {}, []),
    # The existing cluster, resumed: its job store bucket exists, and --tags restart asks for it.
    # Genomes by URL, on a server that counts the requests: the straight line measures them once.
    "urls-asked-once": ({"cactus_seqfile": "@urls.txt"}, {}, []),
    "existing-cluster-restart": (
        {"toil_cluster_name": EXISTING_CLUSTER, "toil_jobstore_name": TAKEN_JOBSTORE},
        {},
        ["--tags", "restart"],
    ),
}

PLAN_KEYS = {
    "cluster_name",
    "cluster_type",
    "zone",
    "region",
    "jobstore",
    "jobstore_name",
    "genomes",
    "node_types",
    "min_nodes",
    "max_nodes",
    "node_storage",
    "leader_node_type",
    "leader_storage",
    "cons_cores",
    "output",
    "launch_cluster_argv",
    "cactus_argv",
    "cactus_restart_argv",
    "cost_per_hour",
    "summary",
    "warnings",
}


@pytest.fixture(scope="module")
def setup(cloud, tmp_path_factory):
    """Files, agents and cheap AWS objects the cases need; the account snapshot taken after them."""
    cloud.reset_account()
    top = tmp_path_factory.mktemp("preflight")
    (top / "inventory").mkdir()
    (top / "inventory" / "hosts.yml").write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {TOP / '.venv' / 'bin' / 'python'}\n"
    )
    genomes = top / "genomes"
    genomes.mkdir()
    (genomes / "a.fa").write_text(FASTA)
    (genomes / "b.fa.gz").write_bytes(gzip.compress(FASTA.encode()))
    (genomes / "readme.txt").write_text("not a genome\n")
    with open(genomes / "huge.fa", "wb") as handle:  # sparse: 60 GB on paper, a few bytes on disk
        handle.write(FASTA.encode())
        handle.truncate(60 * 10**9)
    for name, text in SEQFILES.items():
        (top / name).write_text(text)
    genome_server = CountingServer()
    (top / "urls.txt").write_text(
        f"(u1:0.1,u2:0.2);\nu1 {genome_server.url}/u1.fa\nu2 {genome_server.url}/u2.fa.gz\n"
    )

    s3 = cloud.client("s3")
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET, f"{TAKEN_JOBSTORE}--toil"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_object(Bucket=INPUT_BUCKET, Key="c.fa", Body=FASTA.encode())
    ec2 = cloud.client("ec2")
    group = ec2.create_security_group(GroupName=EXISTING_CLUSTER, Description="Toil appliance security group")
    tags = [
        {"Key": k, "Value": v}
        for k, v in (
            ("Name", EXISTING_CLUSTER),
            ("clusterName", EXISTING_CLUSTER),
            ("ToilNodeType", "leader"),
            ("Owner", KEY_PAIR),
        )
    ]
    ec2.run_instances(
        ImageId=AMI,
        InstanceType="t2.medium",
        MinCount=1,
        MaxCount=1,
        SecurityGroupIds=[group["GroupId"]],
        Placement={"AvailabilityZone": ZONE},
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )

    agents, pids = {}, []
    for name, with_key in (("empty_agent", False), ("other_agent", True)):
        sock = top / f"{name}.sock"
        out = subprocess.run(["ssh-agent", "-s", "-a", str(sock)], check=True, capture_output=True, text=True)
        pids.append(int(out.stdout.split("SSH_AGENT_PID=")[1].split(";")[0]))
        if with_key:
            key = top / "other_key"
            subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-N", "", "-f", str(key)], check=True)
            subprocess.run(
                ["ssh-add", "-q", str(key)], check=True, env={**os.environ, "SSH_AUTH_SOCK": str(sock)}
            )
        agents[name] = str(sock)

    # The run record the align step writes when cactus starts (only the job store matters here).
    record = top / "runs" / "rerun-of-a-started-run" / "run.json"
    record.parent.mkdir(parents=True)
    record.write_text(
        json.dumps({"cluster": GOOD, "jobstore": f"aws:us-west-2:{TAKEN_JOBSTORE}", "state": "running"})
    )

    # A governed account: a VPC of its own (subnets in two zones, no public addresses), a group in the
    # default VPC, and an instance profile named into the good cluster's IAM namespace.
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ids = {
        f"subnet_{z}": ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.42.{n}.0/24", AvailabilityZone=f"us-west-2{z}"
        )["Subnet"]["SubnetId"]
        for n, z in ((1, "a"), (2, "b"))
    }
    ids["default_group"] = ec2.create_security_group(GroupName="pf-elsewhere", Description="default VPC")[
        "GroupId"
    ]
    iam = cloud.client("iam")
    iam.create_role(RoleName="pf_good_node", AssumeRolePolicyDocument="{}")
    ids["claimed_profile"] = iam.create_instance_profile(InstanceProfileName="pf_good_node")[
        "InstanceProfile"
    ]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="pf_good_node", RoleName="pf_good_node")

    # The release server pre-flight asks (in place of GitHub): the tarball's path is enough.
    tarball = top / "www" / "download" / "v3.2.1" / "cactus-bin-v3.2.1.tar.gz"
    tarball.parent.mkdir(parents=True)
    tarball.write_bytes(b"not really a tarball")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(top / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    before = cloud.leftovers()
    try:
        yield {"top": top, "agents": agents, "ids": ids, "before": before, "genome_server": genome_server,
               "release_url": f"http://127.0.0.1:{server.server_address[1]}/download"}
    finally:
        genome_server.stop()
        server.shutdown()
        server.server_close()
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        cloud.reset_account()


class CountingServer:
    """Genomes over HTTP on loopback (HEAD and GET), counting the requests for each path."""

    def __init__(self):
        self.requests = collections.Counter()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                server.requests[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(FASTA)))
                self.end_headers()

            def do_GET(self):
                self.do_HEAD()
                self.wfile.write(FASTA.encode())

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


def _resolve(value, setup):
    if isinstance(value, list):
        return [_resolve(item, setup) for item in value]
    if isinstance(value, str) and value.startswith("@"):
        name = value[1:]
        return setup["agents"].get(name) or setup["ids"].get(name) or str(setup["top"] / name)
    return value


def _base_vars(setup, case_id):
    top = setup["top"]
    return {
        "toil_cluster_name": GOOD,
        "toil_zone": ZONE,
        "toil_key_pair_name": KEY_PAIR,
        "cactus_seqfile": str(top / "good.txt"),
        "cactus_output": f"s3://{OUTPUT_BUCKET}/good.hal",
        "cactus_run_dir": str(top / "runs" / case_id),
        "cactus_provision_release_base_url": setup["release_url"],
    }


def run_preflight(
    cloud, setup, case_id, overrides=None, env_changes=None, extra_args=(), tags="prereqs,plan"
):
    variables = _base_vars(setup, case_id)
    variables.update({k: _resolve(v, setup) for k, v in (overrides or {}).items()})
    env = cloud.env()
    for key, value in (env_changes or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = _resolve(value, setup)
    argv = [
        "ansible-playbook",
        "-i",
        str(setup["top"] / "inventory"),
        "run_alignment.yml",
        "--tags",
        tags,
        "-e",
        json.dumps(variables),
        *extra_args,
    ]
    started = time.monotonic()
    result = cloud.run(argv, check=False, env=env, timeout=180)
    result.seconds = time.monotonic() - started
    result.run_dir = setup["top"] / "runs" / case_id
    return result


@pytest.fixture(scope="module")
def runs(cloud, setup):
    """Every run of this file, a few at a time (each is mostly Ansible starting up)."""
    jobs = {case_id: (overrides, env, []) for case_id, overrides, env, _ in BAD}
    jobs.update(OTHER)
    jobs["plan-tag-alone"] = ({"toil_cluster_name": "Pf-Run"}, {}, [])
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {
            case_id: pool.submit(
                run_preflight,
                cloud,
                setup,
                case_id,
                overrides,
                env,
                extra,
                "plan" if case_id == "plan-tag-alone" else "prereqs,plan",
            )
            for case_id, (overrides, env, extra) in jobs.items()
        }
        results = {case_id: future.result() for case_id, future in futures.items()}
    for case_id, result in results.items():
        print(f"{case_id}: exit {result.returncode}, {result.seconds:.1f}s")
    return results


def _flat(result):
    return " ".join((result.stdout + result.stderr).split())


@pytest.mark.parametrize(("case_id", "overrides", "env", "fragments"), BAD, ids=[c[0] for c in BAD])
def test_bad_input_fails_at_preflight(runs, setup, case_id, overrides, env, fragments):
    result = runs[case_id]
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    for fragment in (fragments,) if isinstance(fragments, str) else fragments:
        expected = fragment.replace("@", str(setup["top"]) + "/")
        assert expected in _flat(result), f"expected {expected!r} in:\n{out[-3000:]}"
    assert "Fix:" in out or case_id == "cluster-type-unknown", out[-3000:]
    if case_id in READ_THE_PLAN:
        # The straight line: these checks read plan.json, written once before them (launch re-checks).
        assert (result.run_dir / "plan.json").exists()
    else:
        assert not (result.run_dir / "plan.json").exists(), "a failed pre-flight must not write plan.json"


def test_preflight_created_nothing(runs, cloud, setup):
    """No run (bad, good, check mode) left an instance, security group, IAM role or bucket."""
    assert cloud.leftovers() == setup["before"]


def test_good_input_passes_and_writes_plan(runs):
    result = runs["good"]
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    plan = json.loads((result.run_dir / "plan.json").read_text())
    assert plan.keys() >= PLAN_KEYS, PLAN_KEYS - plan.keys()
    assert plan["cluster_name"] == GOOD and plan["zone"] == ZONE
    assert plan["jobstore"] == f"aws:us-west-2:{GOOD}-jobstore"
    assert [g["name"] for g in plan["genomes"]] == ["a", "b", "c"]
    # Kubernetes (the default cluster type): cactus-prepare-toil, writing the HAL to the s3:// output.
    argv = plan["cactus_argv"]
    assert plan["workflow"] == "prepare_toil"
    assert argv[:3] == ["cactus-prepare-toil", plan["jobstore"], plan["leader_seqfile"]]
    assert argv[argv.index("--outHal") + 1] == "s3://pf-outputs/good.hal"
    for line in (
        "AWS account 123456789012 as arn:aws:sts::123456789012:user/moto",
        f"ssh-agent: 1 key(s); holds the key of '{KEY_PAIR}'",
        f"cluster '{GOOD}' does not exist yet",
        f"job store bucket '{GOOD}-jobstore--toil' is free",
        f"output bucket '{OUTPUT_BUCKET}' exists",
        "could not read the spot vCPU quota",
        "on-demand prices unknown (AWS Price List API",
        "cost ceiling",
        f"plan: {result.run_dir}/plan.json",
    ):
        assert line in _flat(result), f"{line!r} not in:\n{result.stdout[-4000:]}"


def test_check_mode_runs_the_checks_and_writes_nothing(runs):
    bad, good = runs["bad-check-mode"], runs["good-check-mode"]
    assert bad.returncode != 0 and f"'{TAKEN_JOBSTORE}--toil' already exists" in _flat(bad), bad.stdout[
        -3000:
    ]
    assert good.returncode == 0, good.stdout[-4000:]
    assert "plan: not written (check mode)" in good.stdout
    assert not (good.run_dir / "plan.json").exists()


def test_existing_cluster_is_reported_and_restart_needs_its_job_store(runs):
    result = runs["existing-cluster-restart"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"cluster '{EXISTING_CLUSTER}' already exists (leader i-" in _flat(result)
    assert "launch will reuse it" in _flat(result)
    assert f"job store bucket '{TAKEN_JOBSTORE}--toil' exists: the run restarts from it" in _flat(result)
    assert "--restart" in json.loads((result.run_dir / "plan.json").read_text())["cactus_restart_argv"]


def test_rerun_of_a_started_run_accepts_its_own_job_store(runs):
    result = runs["rerun-of-a-started-run"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"job store bucket '{TAKEN_JOBSTORE}--toil' exists and is this run's" in _flat(result)


def test_prereqs_and_plan_ask_each_genome_url_once(runs, setup):
    """--tags prereqs,plan: pre-flight, the plan and the capacity checks in one straight line, and
    every genome measured once (one HEAD per URL)."""
    result = runs["urls-asked-once"]
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert setup["genome_server"].requests == {"/u1.fa": 1, "/u2.fa.gz": 1}
    plan = json.loads((result.run_dir / "plan.json").read_text())
    assert [g["name"] for g in plan["genomes"]] == ["u1", "u2"]


def test_plan_tag_alone_runs_preflight_first(runs):
    """--tags plan alone still runs every pre-flight check first (here the cluster name's)."""
    result = runs["plan-tag-alone"]
    assert result.returncode != 0
    assert "toil_prereqs : Check the cluster name, the zone and the output" in result.stdout
    assert "toil_cluster_name: 'Pf-Run' is not lowercase" in _flat(result), result.stdout[-3000:]
    assert not (result.run_dir / "plan.json").exists()
