# The user variables the roles expose (named in every message) and the planner's defaults.
# Pure data, no imports: every other module_utils file reads the defaults from here.

from __future__ import annotations

# The user variables the roles expose, named in messages.
VARS = {
    "cluster_name": "toil_cluster_name",
    "zone": "toil_zone",
    "key_pair_name": "toil_key_pair_name",
    "owner": "toil_owner",
    "cluster_type": "toil_cluster_type",
    "node_types": "toil_node_types",
    "min_nodes": "toil_min_nodes",
    "max_nodes": "toil_max_nodes",
    "spot_bid": "toil_spot_bid",
    "jobstore_name": "toil_jobstore_name",
    "leader_node_type": "toil_leader_node_type",
    "leader_storage": "toil_leader_storage",
    "node_storage": "toil_node_storage",
    "on_demand_prices": "cactus_plan_on_demand_prices",
    "run_tag": "toil_run_tag",
    "cons_cores": "cactus_cons_cores",
    "extra_options": "cactus_extra_options",
    "output": "cactus_output",
    "seqfile": "cactus_seqfile",
    "existing_clusters": "toil_existing_clusters",
    "target_host": "cactus_target_hosts",
    "batch_system": "cactus_batch_system",
    "max_cores": "cactus_max_cores",
    "max_memory": "cactus_max_memory",
    "leader_run_dir": "cactus_leader_dir",
    # Governed AWS accounts (checked in cactus_governed.py).
    "vpc_subnet": "toil_vpc_subnet",
    "use_private_ip": "toil_use_private_ip",
    "instance_profile_arn": "toil_instance_profile_arn",
    "extra_security_groups": "toil_extra_security_groups",
    "tags": "toil_tags",
    "aws_ami": "toil_aws_ami",
    "appliance_image": "toil_appliance_image",
    "slurm_partition": "cactus_slurm_partition",
    "slurm_time": "cactus_slurm_time",
    "slurm_args": "cactus_slurm_args",
    "max_jobs": "cactus_max_jobs",
    "staging_url": "cactus_transfer_s3_url",
    "gpu": "cactus_gpu",
}

# ---- Defaults -----------------------------------------------------------------------------------
# The roles' defaults (roles/*/defaults/main.yml) are what a variable defaults to; where the planner
# has a default of its own for the same setting it is the one here, and tests/unit/test_role_defaults.py
# fails when a copy (role defaults, argument specs, README, module options) drifts from it.
DEFAULT_SPOT_TYPE = "c4.8xlarge"  # seed guide: spot, for most jobs
DEFAULT_ON_DEMAND_TYPE = "r3.8xlarge"  # seed guide's table: on-demand, for the database jobs
# toil_spot_bid: 0 lets the default spot type's bid follow its price (cactus_sizing.default_spot_bid).
DEFAULT_SPOT_BID = 0
# Non-burstable: a t2 leader runs out of CPU credits in a run that lasts days. 2 vCPU is the
# Kubernetes leader's minimum.
DEFAULT_LEADER_NODE_TYPE = "m5.large"
# Toil 9.4.1 defaults --retryCount to 1, so Cactus's "retryCount = 5 off single_machine" (which
# only fires when the value is None) never happens: ask for it explicitly.
DEFAULT_RETRY_COUNT = 5
# cactus_gpu: GPUs per blast job (cactus --gpu N, KegAlign); 0 runs lastz on CPUs, as Cactus does.
DEFAULT_GPU = 0
RUN_TAG_KEY = "cactus-run"
CLUSTER_TYPES = ("kubernetes", "mesos")
DEFAULT_CLUSTER_TYPE = "kubernetes"  # supported by Toil; Mesos is deprecated there
# The Cactus release this project pins (its Toil is ours: 9.4.1).
DEFAULT_CACTUS_VERSION = "v3.2.1"
# Host runs: Toil's batch system on the host. The ones below need a cluster of their own (Kubernetes,
# Mesos, AWS Batch): this project makes that cluster on AWS instead, in an "aws" plan.
DEFAULT_HOST_BATCH_SYSTEM = "single_machine"
CLUSTER_BATCH_SYSTEMS = ("kubernetes", "mesos", "aws_batch")
NO_TARGET_HOST_FIX = "leave cactus_target_hosts empty to run on a Toil cluster on AWS"
# Cactus's cactus#1465: Toil's sacct calls broke with tens of thousands of jobs in flight.
DEFAULT_SLURM_MAX_JOBS = 1000
