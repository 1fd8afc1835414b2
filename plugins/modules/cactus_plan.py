#!/usr/bin/python
# Plan a Cactus run on a Toil cluster: parse the seqFile, measure the genomes, size the cluster,
# build the launch-cluster and cactus command lines, and record it all in <run_dir>/plan.json.
# With target_host, plan a run on one host of the inventory instead: no cluster, no AWS.
# The manual only: the action plugin plugins/action/cactus_plan.py makes the plan
# (module_utils/cactus_plan_run.py) on the controller.

DOCUMENTATION = r"""
---
module: cactus_plan
short_description: Plan a Cactus alignment on an autoscaling Toil cluster on AWS, or on one host
description:
  - Parses a Cactus seqFile with the rules of Cactus v3.2.1 (C(SeqFile.parseFile) and its tree
    checks) and fails with the line, the problem and the fix when it is wrong.
  - Measures every genome the tree aligns. Local files must exist and be FASTA (first byte C(>))
    or gzip; a directory counts as the concatenation of all its entries, as Cactus does.
    http(s) URLs are measured with a HEAD request, s3 URLs with C(head_object).
  - Sizes the cluster with the seed guide's table (genome size classes small, nematode, bird,
    mammal), builds C(toil launch-cluster) and C(cactus) argument lists checked against Toil 9.4.1's
    rules, and a worst-case hourly cost.
  - With O(target_host), plans a run on that one host of the inventory instead (a big server, or the
    login node of a Slurm/LSF cluster) - a plan with C(mode=host). The job store is Toil's file job
    store C(<leader_run_dir>/jobstore), the batch system is O(batch_system), and nothing touches AWS -
    s3 genomes are not measured, an s3 output is refused. The cluster options (O(cluster_name),
    O(zone), O(key_pair_name), O(node_types), O(min_nodes), O(max_nodes), O(spot_bid),
    O(leader_node_type), O(leader_storage), O(node_storage), O(owner), O(jobstore_name),
    O(on_demand_prices), O(existing_clusters)) are not needed and are ignored.
  - An empty value (C([]), C(""), C(0)) of O(node_types), O(min_nodes), O(max_nodes), O(leader_node_type),
    O(leader_storage),
    O(node_storage), O(cons_cores), O(max_cores), O(max_memory), O(jobstore_name), O(leader_dir) or
    O(run_name) means its default, as if not given (the roles pass their settings as they are).
  - Writes C(<run_dir>/plan.json) only when its content changes, so a second run reports no change.
    In check mode nothing is written; C(changed) says whether it would be.
  - Runs on the controller (C(delegate_to=localhost)) with the project's virtualenv Python,
    which has Toil and boto3.
  - Relative local genome paths are resolved against the seqFile's directory (Cactus itself
    would use the current directory of the cactus process, which means nothing here). The plan
    gives each local genome a path on the leader and the text of the seqFile to write there.
  - Leader paths are read literally by Cactus and Toil (which read a local path as a C(file://)
    URL); characters other than letters, digits, C(.), C(_) and C(-) in a genome's name or file name
    become C(_) there. A run directory with other characters is refused, and so are files of a
    genome directory with such names (Cactus joins them with a shell command).
  - A local O(output) must be a file path (not a directory) below a directory the user may write.
  - Runs on the controller (an action plugin, in Ansible's own process), whatever host the task names.
version_added: "1.0.0"
author: cactus-aws maintainers (@cactus-aws)
requirements:
  - toil[aws]==9.4.1 (its node type parser, instance table and job store name check)
  - boto3 (only for s3:// genomes of a run on AWS)
options:
  seqfile:
    description: Path of the seqFile on the controller.
    type: path
    required: true
  output:
    description:
      - Where the HAL goes. An C(s3://bucket/key.hal) URL is written by Toil directly.
      - Anything else is a path on the controller; Cactus writes the HAL on the leader at
        O(leader_output) and a later step fetches it.
    type: str
    required: true
  cluster_name:
    description:
      - Toil cluster name. Lowercase letters, digits and single hyphens, starting with a letter,
        at most 59 characters (Toil's IAM role C(<name>_toil) must fit in 64).
      - Required unless O(target_host) is set.
    type: str
  zone:
    description:
      - Availability zone, e.g. C(us-west-2a). The region is derived from it.
      - Required unless O(target_host) is set.
    type: str
  key_pair_name:
    description:
      - Name of an existing EC2 key pair (Toil never creates it).
      - Required unless O(target_host) is set.
    type: str
  target_host:
    description:
      - Inventory host that runs the alignment. When set (and O(host_run) is not false), the plan is a
        host plan (C(mode=host)), with no cluster and no AWS call; unset, a plan for a Toil cluster on
        AWS (C(mode=aws)).
    type: str
  host_run:
    description:
      - Whether the run goes to O(target_host) (true) or to a Toil cluster on AWS (false). Unset, a
        given O(target_host) means a host run. The other mode's options are ignored, so a caller can
        pass every setting and let the module decide.
    type: bool
  batch_system:
    description:
      - Host runs only. Toil C(--batchSystem) on the host, one of Toil 9.4.1's registry
        (C(single_machine), C(slurm), C(lsf), C(grid_engine), C(torque), C(htcondor)).
        C(kubernetes), C(mesos) and C(aws_batch) are refused - they need a cluster of their own.
    type: str
    default: single_machine
  max_cores:
    description:
      - Host runs only. C(--maxCores), at least 1. Unset, no limit (on C(single_machine), all of
        the host's cores).
    type: int
  max_memory:
    description:
      - Host runs only. C(--maxMemory), bytes (an int) or a Toil size such as C(64G), C(2048M) or
        C(500Gi), checked with Toil's own C(human2bytes). Unset, no limit (on C(single_machine), all
        of the host's memory).
    type: raw
  host_cores:
    description:
      - Host runs only. The host's cores (its facts). With C(single_machine) and no O(max_cores), they
        become C(--maxCores); other batch systems ignore them (a login node's size says nothing about
        the cluster's nodes).
    type: int
  host_memory_mb:
    description:
      - Host runs only. The host's memory in MiB (its facts). With C(single_machine) and no
        O(max_memory), it becomes C(--maxMemory <n>Mi); other batch systems ignore it.
    type: int
  slurm_partition:
    description:
      - Host runs with O(batch_system=slurm) only. C(--slurmPartition). Unset, the partition
        pre-flight found (O(slurm_facts)), the cluster's default partition.
    type: str
  slurm_time:
    description:
      - Host runs with O(batch_system=slurm) only. C(--slurmTime), one time limit for every job
        (C([DD-]HH:MM:SS), read by Toil's parser). Unset, the partition's limit (O(slurm_facts)).
    type: str
  slurm_args:
    description:
      - Host runs with O(batch_system=slurm) only. Extra C(sbatch) flags (e.g. C(--account=lab)),
        added to C(--slurmArgs) after the run's C(--comment), by which its jobs are listed and
        cancelled. Refused - the job name and comment, the partition and time (use O(slurm_partition),
        O(slurm_time)), and cores or memory flags (Toil sets them per job).
    type: str
  max_jobs:
    description:
      - Host runs with O(batch_system=slurm) only. C(--maxJobs); unset, 1000 (cactus#1465).
    type: int
  slurm_facts:
    description:
      - Host runs with O(batch_system=slurm) only. What pre-flight saw of the partition
        (C(name), C(default), C(time_limit), C(cpus), C(memory_mb)), the defaults of O(slurm_partition),
        O(slurm_time), O(cons_cores) (a node's CPUs) and O(max_memory) (a node's memory).
    type: dict
  owner:
    description: Owner tag of the instances. Defaults to O(key_pair_name), as Toil does.
    type: str
  cluster_type:
    description: Kubernetes (supported) or Mesos (deprecated in Toil, autoscaling on the cactus command).
    type: str
    choices: [kubernetes, mesos]
    default: kubernetes
  node_types:
    description:
      - Worker node types in Toil's grammar, as a list or one comma-separated string. Each is
        slash-separated interchangeable instance types with an optional C(:bid) for spot.
      - Default C(c4.8xlarge:<spot_bid>) and C(r3.8xlarge), the seed guide's pair.
    type: raw
  min_nodes:
    description: Minimum workers per node type (list or comma-separated string). Default all 0.
    type: raw
  max_nodes:
    description:
      - Maximum workers per node type. Default from the seed table; a node type with a bid gets
        the spot maximum, an on-demand one the on-demand maximum.
    type: raw
  spot_bid:
    description:
      - Bid in USD per hour for the default spot node type.
      - 0 lets it follow the type, its on-demand price (AWS's own cap of a spot request) from
        O(on_demand_prices) or, with O(lookup_prices), the Price List API, else its us-east-1 price.
    type: float
    default: 0
  jobstore_name:
    description:
      - Name of the AWS job store (bucket C(<name>--toil)); the plan writes C(aws:<region>:<name>).
      - 3-56 lowercase letters, digits and hyphens, no C(--). Default C(<cluster_name>-jobstore).
    type: str
  leader_node_type:
    description: Leader instance type (at least 2 vCPU on Kubernetes). Default C(m5.large).
    type: str
  leader_storage:
    description: Leader root volume in GB. Default 50 plus the size of the local genomes staged there.
    type: int
  node_storage:
    description: Worker root volume in GB. Default by the largest genome class (100/200/500/1000).
    type: int
  cons_cores:
    description:
      - C(--consCores) for Cactus. Default the smallest worker's vCPU count (minus one on
        Kubernetes), e.g. 32 on Mesos and 31 on Kubernetes for c4.8xlarge + r3.8xlarge.
      - On a host, passed only when given; at most O(max_cores). With C(single_machine) Cactus then
        uses O(max_cores) or the host's cores. Any other batch system needs it or O(max_cores) (the
        cores of one node of that cluster).
    type: int
  retry_count:
    description:
      - C(--retryCount). Toil 9.4.1 defaults it to 1, which defeats Cactus's own raise to 5.
      - On a host with C(single_machine) it is not passed (Cactus keeps Toil's default there).
    type: int
    default: 5
  extra_options:
    description:
      - More cactus options, appended last (list, or one string split like a shell would).
      - Options the plan writes (C(--batchSystem), C(--nodeTypes), C(--consCores), ...) are
        refused with the variable to set instead.
      - Every other token must be an option of Cactus v3.2.1 (module_utils C(cactus_options), read
        from its source) or of Toil 9.4.1 (its own parser), or an unambiguous prefix of one, or that
        option's value; an unknown option gets a close match as a hint.
      - On a host, C(--batchSystem), C(--maxCores), C(--maxMemory), C(--consCores), C(--logFile) and
        C(--restart) are refused the same way, and the cluster options C(--provisioner),
        C(--nodeTypes), C(--minNodes), C(--maxNodes), C(--nodeStorage) too. C(--binariesMode) is allowed.
    type: raw
  cactus_version:
    description: Cactus release recorded in the plan for the install step.
    type: str
    default: v3.2.1
  on_demand_prices:
    description:
      - On-demand USD per hour by instance type, for the cost ceiling. Missing ones are unknown, or
        looked up with O(lookup_prices).
    type: dict
    default: {}
  lookup_prices:
    description:
      - Look up the on-demand prices of the plan's on-demand node types and leader that
        O(on_demand_prices) does not give, with the AWS Price List API (one quick try; a failure is
        a warning and leaves them unknown). Not on a host run.
    type: bool
    default: false
  genome_sizes:
    description: Known uncompressed sizes in bytes by genome name; these genomes are not measured.
    type: dict
    default: {}
  workflow:
    description:
      - C(prepare_toil) runs C(cactus-prepare-toil), one Toil job per step (preprocess, blast, align per
        subtree, halAppend), each sized to fit a node (Cactus's advice on Kubernetes).
      - C(progressive) runs C(cactus) itself, autoscaling from the workflow (Cactus's AWS guide, Mesos,
        hosts).
      - C(auto) is C(prepare_toil) on Kubernetes and C(progressive) on Mesos and on inventory hosts.
    type: str
    choices: [auto, prepare_toil, progressive]
    default: auto
  gpu:
    description:
      - GPUs per blast job (C(cactus --gpu N), KegAlign in Cactus's C(-gpu) image); 0 runs lastz on CPUs.
      - Refused on Mesos (Toil's Mesos batch system gives no job a GPU) and with C(prepare_toil)
        (C(cactus-prepare-toil) v3.2.1 asks Toil for no GPU for its blast job).
      - On Kubernetes a node type of O(node_types) must have N GPUs of at least 8 GiB (EC2's
        DescribeInstanceTypes); on a host the batch system must be C(single_machine) or C(slurm) and
        O(extra_options) must give C(--binariesMode docker) or C(singularity).
    type: int
    default: 0
  offline:
    description:
      - Do not touch the network. URL genomes are not measured (size null, sized as mammal).
      - A prepare_toil plan then reads instance facts from Toil's table, not EC2's DescribeInstanceTypes.
      - On a host, s3 genomes are never measured (no AWS call); http(s) ones are unless offline.
    type: bool
    default: false
  http_timeout:
    description: Seconds to wait for each HEAD request.
    type: int
    default: 10
  existing_clusters:
    description:
      - Names of clusters that exist in the account. A name that is a hyphen-prefix of one of
        them (or the reverse) is refused, because destroy-cluster on one deletes the other's IAM role.
    type: list
    elements: str
    default: []
  run_tag_key:
    description: Key of the tag that marks this run's instances (C(--tag key=value)).
    type: str
    default: cactus-run
  run_tag_value:
    description: Value of the run tag. Default the job store name.
    type: str
  leader_run_dir:
    description:
      - Directory on the leader for this run. Default C(<leader_dir>/runs/<jobstore_name>) on AWS
        (without O(leader_dir), C(/var/lib/toil/cactus/<jobstore_name>)) and C(<leader_dir>/runs/<run_name>)
        on a host.
      - On a host, absolute (e.g. C(/home/alice/cactus/runs/myrun)); the job store is
        C(<leader_run_dir>/jobstore) and the plan's C(jobstore_name) is its last component.
    type: str
  leader_dir:
    description:
      - Working directory on the target, under which each run has C(runs/<name>). A host run needs it
        (or O(leader_run_dir)).
    type: str
  run_name:
    description: Host runs - the name of the run directory under O(leader_dir). Default O(target_host).
    type: str
  leader_seqfile:
    description: Path of the seqFile on the leader. Default C(<leader_run_dir>/seqfile.txt).
    type: str
  leader_output:
    description:
      - Path of the HAL on the leader when O(output) is local. Default C(<leader_run_dir>/<basename>).
    type: str
  log_file:
    description: C(--logFile) on the leader. Default C(<leader_run_dir>/cactus.log).
    type: str
  vpc_subnet:
    description:
      - Subnet of O(zone) for the leader (C(--vpcSubnet)); Toil puts the workers in like subnets of its VPC.
        Unset, the zone's default subnet. Whether it exists, is in the zone and gives public addresses is
        checked by the C(toil_preflight) module (C(governed)).
    type: str
  use_private_ip:
    description:
      - The controller reaches the leader at its private address (VPN, Direct Connect, or a controller in
        the VPC). Recorded in the plan; the inventory plugin's C(use_private_ip) must say the same.
    type: bool
    default: false
  instance_profile_arn:
    description:
      - ARN of an existing instance profile for the instances (C(--awsEc2ProfileArn)); Toil then creates
        no IAM role. Refused when C(toil destroy-cluster) would delete it or its role (their names start
        with the cluster's IAM prefix).
    type: str
  extra_security_groups:
    description: Ids of security groups added to every instance (C(--awsEc2ExtraSecurityGroupId)).
    type: list
    elements: str
    default: []
  tags:
    description:
      - "Tags for every instance, volume and bucket the run makes (C(--tag), C(TOIL_AWS_TAGS) for the job
        store bucket, the staging bucket). EC2's rules - key 1-128 characters, value at most 256, no
        C(aws:) prefix, letters, digits, spaces and C(_ . : / + - @); no C(=) (Toil splits on it); not
        Toil's own keys (C(Name), C(Owner), C(clusterName), C(ToilNodeType), C(sshKeyName))."
    type: dict
    default: {}
  aws_ami:
    description: Pinned leader and worker image (C(TOIL_AWS_AMI)); unset, Toil looks up Flatcar's feed.
    type: str
  appliance_image:
    description:
      - Pinned Toil appliance image (C(TOIL_APPLIANCE_SELF)), C(registry/repository:tag) or C(@sha256:digest).
    type: str
  run_dir:
    description: Directory on the controller that receives C(plan.json); created when missing.
    type: path
    required: true
notes:
  - Sizes of gzipped files are estimates of the uncompressed size, because the size classes are
    about bases. Plain gzip uses the trailer's ISIZE (corrected for its 4 GiB wrap); BGZF and gzipped
    URLs use the compressed size times 3.4, the ratio of UCSC's hg38.fa.gz. C(size_on_disk) keeps the
    compressed size, C(size_method) says which estimate was used.
  - Every genome Cactus imports is measured, sized and staged, that is the leaves of the tree and the
    ancestors (named internal nodes) that have a genome line, whose sequence Cactus uses for that
    ancestor. Genome lines the tree does not name are ignored by Cactus; they are reported as
    warnings and neither measured nor staged.
  - A host plan has no C(region), C(cost_per_hour), C(launch_cluster_argv) nor node counts; on
    C(single_machine) it warns when a genome is 100 Mb or more (or of unknown size).
"""

EXAMPLES = r"""
- name: Plan the alignment
  cactus_plan:
    seqfile: "{{ cactus_seqfile }}"
    output: s3://my-bucket/birds.hal
    cluster_name: cactus-birds
    zone: us-west-2a
    key_pair_name: my-key
    on_demand_prices: {r3.8xlarge: 2.66, m5.large: 0.096}
    run_dir: "runs/cactus-birds"
  delegate_to: localhost
  register: cactus_plan_result

- name: Plan with explicit node types and a local output, without network access
  cactus_plan:
    seqfile: examples/evolverMammals.txt
    output: runs/mammals/out.hal
    cluster_name: cactus-mammals
    zone: us-east-1b
    key_pair_name: my-key
    cluster_type: mesos
    node_types: ["c5.9xlarge/c5a.8xlarge:0.9", "r5.8xlarge"]
    max_nodes: [30, 3]
    extra_options: ["--root", "mr", "--defaultDisk", "8G"]
    offline: true
    run_dir: runs/mammals
  delegate_to: localhost

- name: Plan a run on one host of the inventory that submits to Slurm
  cactus_plan:
    seqfile: examples/evolverMammals.txt
    output: runs/login1/out.hal
    target_host: login1
    batch_system: slurm
    slurm_partition: long
    slurm_time: "2-00:00:00"
    slurm_facts: {name: long, default: false, time_limit: "7-00:00:00", cpus: 64, memory_mb: 512000}
    leader_run_dir: /home/alice/cactus/runs/login1
    run_dir: runs/login1
  delegate_to: localhost
"""

RETURN = r"""
plan:
  description: The plan, also written to plan.json.
  returned: success
  type: dict
  contains:
    mode:
      description: C(aws) for a Toil cluster on AWS, C(host) for a run on O(target_host).
      type: str
    target_host:
      description: Host plans only. The inventory host of the run.
      type: str
    batch_system:
      description: Host plans only. Toil C(--batchSystem) on the host.
      type: str
    max_cores:
      description: Host plans only. C(--maxCores), or null when not given.
      type: int
    max_memory:
      description: Host plans only. C(--maxMemory) as given (a string), or null.
      type: str
    cons_cores:
      description: C(--consCores); on a host null when not given.
      type: int
    jobstore_name:
      description: Name of the job store; on a host the last component of leader_run_dir.
      type: str
    leader_run_dir:
      description: The run directory on the leader (on a host, absolute and normalized).
      type: str
    launch_cluster_argv:
      description: AWS plans only. C(toil launch-cluster ...) as a list, program first.
      type: list
      elements: str
    launch_cluster_environment:
      description: AWS plans only. Environment for launch-cluster (C(TOIL_AWS_ZONE), C(TOIL_AWS_AMI),
        C(TOIL_APPLIANCE_SELF)).
      type: dict
    governed:
      description: AWS plans only. How the run fits the account - vpc_subnet, use_private_ip,
        instance_profile_arn, creates_iam_role (false with a profile), extra_security_groups, tags (of
        everything the run makes, Owner and the run's marker included), aws_ami, appliance_image,
        appliance_image_lookup (C(skipped) when the image's name carries Toil's commit, else C(registry)).
      type: dict
    cactus_environment:
      description: AWS plans only. Environment of cactus on the leader (C(TOIL_AWS_TAGS), for the job
        store bucket).
      type: dict
    workflow:
      description: AWS plans only. C(prepare_toil) or C(progressive); workflow_why says why.
      type: str
    workflow_why:
      description: AWS plans only. Why this workflow (chosen, or what C(auto) decided and why).
      type: str
    gpu:
      description: GPU blast, null when off; C(count) (C(--gpu N)) and on AWS C(node_types), the node types
        with N GPUs of at least 8 GiB.
      type: dict
    steps:
      description: prepare_toil plans only. Per step (preprocess, blast, align, halAppend) the request of
        one job (cores, memory and disk in bytes), why, and the node type that holds it.
      type: dict
    instance_facts:
      description: prepare_toil plans only. vCPUs, memory, GPUs of each worker instance type and their source.
      type: dict
    hal:
      description: prepare_toil plans only. Where the HAL is written (url, bucket, key, region) and whether
        the run owns the bucket (owned, kept by teardown until the HAL is fetched and verified).
      type: dict
    extra_options_routes:
      description: prepare_toil plans only. Where each option of cactus_extra_options went
        (C(cactus-prepare-toil) or C(--cactusOptions)).
      type: list
      elements: dict
    cactus_argv:
      description: C(cactus <jobStore> <seqFile> <output> ...), or C(cactus-prepare-toil <jobStore>
        <seqFile> --outHal ...), as a list, to run on the leader.
      type: list
      elements: str
    cactus_restart_argv:
      description: The same with C(--restart).
      type: list
      elements: str
    node_types:
      description: AWS plans only. Worker node types, parallel to min_nodes and max_nodes.
      type: list
      elements: str
    min_nodes:
      description: Minimum workers per node type.
      type: list
      elements: int
    max_nodes:
      description: Maximum workers per node type.
      type: list
      elements: int
    jobstore:
      description: Job store locator C(aws:<region>:<name>); on a host the path C(<leader_run_dir>/jobstore).
      type: str
    genomes:
      description: Aligned genomes with name, path, resolved, kind, outgroup, size, size_class,
        size_on_disk, size_method and leader_path; URLs also with etag and last_modified when the
        server gave them (with the size, they fingerprint the input in the run record).
      type: list
      elements: dict
    cost_per_hour:
      description: AWS plans only. Worst-case USD per hour with lines, known_total, total (null if
        a price is unknown) and unknown.
      type: dict
    single_machine_recommended:
      description: True when every genome is under 100 Mb.
      type: bool
    cluster_type:
      description: AWS plans only. kubernetes or mesos.
      type: str
    leader_seqfile_text:
      description: The seqFile to write on the leader, with leader paths for local genomes.
      type: str
    warnings:
      description: Things worth a look that do not stop the run.
      type: list
      elements: str
    summary:
      description: A few lines for a human.
      type: str
  sample:
    cactus_argv: [cactus, "aws:us-west-2:cactus-birds-jobstore", /var/lib/toil/cactus/x/seqfile.txt,
                  "s3://my-bucket/birds.hal", --batchSystem, kubernetes, --binariesMode, singularity]
plan_file:
  description: Path of plan.json.
  returned: success
  type: str
"""
