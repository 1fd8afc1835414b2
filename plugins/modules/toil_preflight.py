#!/usr/bin/python
# Pre-flight checks for a Toil cluster on AWS that no amazon.aws module makes: ssh-agent against
# the key pair, cluster-name hazards, the job store bucket, node type offerings, spot bids, vCPU
# quotas and on-demand prices. Read-only: it never creates, changes or deletes anything.
# The manual only: the action plugin plugins/action/toil_preflight.py runs the checks
# (module_utils/toil_preflight_run.py) on the controller.

DOCUMENTATION = r"""
---
module: toil_preflight
short_description: Read-only pre-flight checks for a Toil cluster on AWS
description:
  - "Runs the groups of checks named in O(check), in that order, on the controller (an action plugin,
    in Ansible's own process), and fails at the first problem with a message of the form
    C(<variable>: <problem>. Fix: <fix>) naming the playbook variable to change. Each group's findings
    are returned under its name."
  - Never creates, changes or deletes anything, so it runs in check mode too.
  - Names, zones, job store names, node type grammar and the cluster-name hazard rule are the
    planner's (module_utils C(toil_rules), C(cactus_sizing), C(cactus_governed)); this module asks
    AWS and ssh-agent and applies them.
  - C(names) needs no AWS access; C(agent) needs C(ssh-add); the others ask AWS with boto3
    (which honours C(AWS_ENDPOINT_URL), C(AWS_PROFILE) and the other usual settings).
version_added: "1.0.0"
author: cactus-aws maintainers (@cactus-aws)
requirements:
  - boto3
  - toil[aws]==9.4.1 (through module_utils cactus_sizing)
options:
  check:
    description:
      - C(names) checks the cluster name, the zone (a region gets its own message; the region must
        be an EC2 region; O(region), when given, must be the zone's) and the output, without AWS. The
        job store name is the plan's to check. Put first, it keeps a later check from asking AWS with
        a mistyped name.
      - C(account) checks that the AWS credentials work (and says whose they are), that O(zone) is an
        available zone of O(region) and that the key pair O(key_pair_name) exists there; its fingerprint
        serves C(agent) when O(key_fingerprint) is not given.
      - C(agent) checks that ssh-agent is reachable and holds the key pair's key.
      - C(clusters) lists the Toil clusters in the account (security groups, instances tagged
        C(clusterName), IAM roles C(*_toil)) and refuses a name that is a hyphen-prefix of one of
        them or the reverse.
      - C(jobstore) checks that bucket C(<jobstore_name>--toil) is free, or that it exists when
        O(restart) is true; and that bucket C(<jobstore_name>--hal), where a prepare_toil run writes
        its HAL, is not another account's nor holds an earlier run's HAL.
      - C(capacity) checks that every instance type is offered in the zone, that every spot bid is
        at least the current spot price there, and that the vCPU quotas (Standard, and G and VT for GPU
        node types) hold the plan's maximum plus the leader; it also looks up on-demand prices.
      - C(storage) checks that the local genomes fit on the leader's disk.
      - C(governed) checks the settings of a governed account - the zone has a default subnet (Toil 9.4.1
        needs one even with a subnet given); O(vpc_subnet) exists, is in O(zone) and gives public
        addresses unless O(use_private_ip), and whether this controller has a route to its addresses (best
        effort, a warning); O(extra_security_groups) exist in the leader's VPC; O(instance_profile_arn)
        exists, holds a role, may be passed (C(iam:PassRole), best effort) and is safe from
        C(toil destroy-cluster); O(aws_ami) exists and fits the instance types of O(leader_node_type) and
        O(node_types); O(appliance_image) is in its registry - Toil's own look-up, over the network, which
        Toil skips (and so does this) when the name carries Toil's commit.
      - C(profile_guard) only refuses an O(instance_profile_arn) that C(toil destroy-cluster) would delete
        (for teardown; a profile that is gone is no longer at risk).
      - C(slurm) (a host run on a Slurm login node, no AWS) judges what the probe saw there
        (O(slurm_probe)) - the partition exists and is up, O(slurm_time) fits its limit, a
        C(sbatch --test-only) job was accepted (nothing is submitted), and, best effort, the run
        directory is on a filesystem the compute nodes see (a warning otherwise or when unknown).
      - C(output) checks that the bucket of an C(s3://) O(output) exists and these credentials reach
        it (Toil writes the HAL there and does not create the bucket).
    type: list
    elements: str
    required: true
    choices: [names, account, agent, clusters, jobstore, output, capacity, storage, governed, profile_guard,
              slurm]
  cluster_name:
    description: Toil cluster name (C(names), C(clusters)).
    type: str
  zone:
    description: Availability zone (C(names), C(account), C(capacity)).
    type: str
  jobstore_name:
    description: Job store name, without C(aws:<region>:) (C(names), C(jobstore)).
    type: str
  output:
    description: Where the HAL goes, a local path or an C(s3://) URL (C(names), C(output)).
    type: str
  staging_url:
    description:
      - C(cactus_transfer_s3_url) when genomes are staged in S3, else empty (C(names)); an
        C(s3://bucket[/prefix]) URL whose prefix Toil reads literally.
    type: str
    default: ""
  key_pair_name:
    description: EC2 key pair name (C(account), C(agent)).
    type: str
  key_fingerprint:
    description: EC2's fingerprint of the key pair (C(agent); default, the one C(account) found).
    type: str
  ssh_auth_sock:
    description: Path of ssh-agent's socket, usually the controller's C(SSH_AUTH_SOCK) (C(agent)).
    type: str
    default: ""
  max_agent_keys:
    description: More keys than this in ssh-agent give a warning (C(agent)).
    type: int
    default: 5
  require_agent:
    description:
      - When false, ssh-agent problems are warnings (for keys given in C(~/.ssh/config) instead).
    type: bool
    default: true
  restart:
    description: The run resumes an existing job store, whose bucket must then exist (C(jobstore)).
    type: bool
    default: false
  recorded_jobstore:
    description:
      - The job store locator C(aws:<region>:<name>) in this run's record on the controller, if the
        alignment was started before. An existing bucket of that job store is this run's own and
        is accepted (C(jobstore)); the align step then decides what to do with it.
    type: str
    default: ""
  node_types:
    description: Worker node types in Toil's grammar, C(type[/type...][:bid]) (C(capacity), C(governed)).
    type: list
    elements: str
    default: []
  max_nodes:
    description: Maximum workers per node type, parallel to O(node_types) (C(capacity)).
    type: list
    elements: int
    default: []
  leader_node_type:
    description: Leader instance type (C(capacity), C(governed)).
    type: str
  fail_on_quota:
    description: When false, a plan above a vCPU quota is a warning instead of a failure.
    type: bool
    default: true
  genomes:
    description: The plan's genomes, with C(kind) and C(size_on_disk) (C(storage)).
    type: list
    elements: dict
    default: []
  leader_storage:
    description: Leader root disk in GB (C(storage)).
    type: int
  output_kind:
    description: C(local) or C(s3), as the plan says (C(storage)).
    type: str
    default: s3
  vpc_subnet:
    description: Subnet id for the leader, empty for the zone's default subnet (C(governed)).
    type: str
    default: ""
  use_private_ip:
    description: The run reaches the leader at its private address (C(governed)).
    type: bool
    default: false
  proxy_jump:
    description: The connection's bastion (C(toil_ssh_proxy_jump)), named in the private-address warning.
    type: str
    default: ""
  extra_security_groups:
    description: Security group ids added to every instance (C(governed)).
    type: list
    elements: str
    default: []
  instance_profile_arn:
    description: Existing instance profile for the instances (C(governed), C(profile_guard)).
    type: str
    default: ""
  aws_ami:
    description: Pinned image id (C(governed)).
    type: str
    default: ""
  appliance_image:
    description: Pinned Toil appliance image (C(governed)).
    type: str
    default: ""
  slurm_probe:
    description:
      - What roles/toil_prereqs/files/slurm_probe.py printed on the login node (C(slurm)) -
        C(sinfo) and C(test_only) (each C(rc), C(out)), C(hostname), C(run_dir), C(fs_type).
    type: dict
  slurm_partition:
    description: The partition asked for; empty means the cluster's default (C(slurm)).
    type: str
    default: ""
  slurm_time:
    description: The time limit asked for; empty means the partition's (C(slurm)).
    type: str
    default: ""
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Check the names before asking AWS anything
  toil_preflight:
    check: names
    cluster_name: cactus-birds
    zone: us-west-2a
    output: s3://my-bucket/birds.hal

- name: Check ssh-agent, the cluster name against existing clusters, and the job store bucket
  toil_preflight:
    check: [agent, clusters, jobstore]
    region: us-west-2
    key_pair_name: my-key
    key_fingerprint: "1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca"
    ssh_auth_sock: "{{ lookup('ansible.builtin.env', 'SSH_AUTH_SOCK') }}"
    cluster_name: cactus-birds
    jobstore_name: cactus-birds-jobstore
  register: preflight

- name: Check offerings, spot bids and quotas for the plan
  toil_preflight:
    check: capacity
    region: us-west-2
    zone: us-west-2a
    node_types: ["c4.8xlarge:0.6", "r3.8xlarge"]
    max_nodes: [10, 1]
    leader_node_type: m5.large
# preflight.capacity.spot_prices, preflight.capacity.quotas, ...
"""

RETURN = r"""
msg:
  description: What each check found, one line per check.
  returned: always
  type: str
names:
  description: C(region) of the zone and C(output_kind) (C(local) or C(s3)).
  returned: when names is checked
  type: dict
agent:
  description: C(agent_keys) (keys in ssh-agent), C(fingerprint_kind), C(matched) (the key's comment).
  returned: when agent is checked
  type: dict
clusters:
  description:
    - C(clusters), the Toil clusters found by name with their C(sources) and C(instances),
      C(cluster_exists), whether a cluster named O(cluster_name) exists, and C(security_groups), the
      security groups named O(cluster_name) (C(group_id), C(group_name), C(tags)).
  returned: when clusters is checked
  type: dict
jobstore:
  description: C(bucket), the job store bucket name, and C(bucket_exists).
  returned: when jobstore is checked
  type: dict
capacity:
  description:
    - C(spot_prices) (current price in the zone by instance type), C(vcpus) by instance type, and
      C(quotas) (C(spot) and C(on_demand), and C(gpu_spot) and C(gpu_on_demand) when a G or VT node type is
      planned, each with code, quota (null when unreadable), needed and in_use).
  returned: when capacity is checked
  type: dict
slurm:
  description:
    - C(partition), the partition used (C(name), C(default), C(time_limit), C(cpus) and C(memory_mb) of its
      smallest node), the host plan's Slurm defaults.
  returned: when slurm is checked
  type: dict
output:
  description: Empty; the check either passes or fails.
  returned: when output is checked
  type: dict
storage:
  description: Empty; the check either passes or fails.
  returned: when storage is checked
  type: dict
governed:
  description: C(vpc_id) of the leader's subnet, C(public_addresses) (whether it gives them),
    C(creates_iam_role).
  returned: when governed is checked
  type: dict
profile_guard:
  description: Empty; the check either passes or fails.
  returned: when profile_guard is checked
  type: dict
preflight_warnings:
  description: The warnings also shown by Ansible.
  returned: always
  type: list
  elements: str
"""
