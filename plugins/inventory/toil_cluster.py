# Inventory plugin: the leader (and optionally the workers) of ONE Toil cluster on AWS, found the way
# Toil 9.4.1 finds them. The rules themselves live in plugins/module_utils/toil_aws.py (the leader)
# and plugins/module_utils/toil_rules.py (names, zone to region).

DOCUMENTATION = r"""
name: toil_cluster
short_description: The leader of one Toil cluster on AWS, found exactly the way Toil finds it
description:
  - Finds the leader of ONE Toil cluster on AWS EC2 and puts it in the group C(toil_leader); with
    O(include_workers), also puts the workers in C(toil_workers).
  - "Toil's own rules (Toil 9.4.1, C(AWSProvisioner._getLeaderInstanceBoto3)): one paginated
    C(ec2:DescribeInstances) call in the zone's region, filtered on the server by C(instance.group-name)
    (the security group Toil names after the cluster, not a tag) and by state (pending, running, stopping,
    stopped: Toil keeps stopped nodes when it looks for the leader). The instance launched first is the
    leader and must be tagged C(ToilNodeType=leader), otherwise the inventory fails with an error naming
    the cluster (Toil's advice: destroy the cluster and launch it again). Workers are the other pending
    or running instances of the group."
  - Never mixes clusters. Another cluster whose name starts with this one (C(cactus) and C(cactus-run)),
    terminated instances, and instances that merely carry a matching C(Name) or C(clusterName) tag
    without being in the cluster's security group are ignored. With equal launch times (AWS counts
    seconds) the instance tagged leader comes first, then the lower instance id.
  - "A cluster that does not exist gives an empty C(toil_leader) group (not an error), so a play can
    launch it first. The zone is then checked (C(ec2:DescribeAvailabilityZones)): a zone that does not
    exist is an error."
  - The cluster name and zone are given once, here. The plugin sets them as variables of the group
    C(all) - V(toil_cluster_name), V(toil_zone), V(toil_region), V(toil_inventory_cluster_name),
    V(toil_use_private_ip) and V(toil_inventory_use_private_ip) - so every play, including plays on
    C(localhost), reads the same values. Roles can compare V(toil_inventory_cluster_name) with
    V(toil_cluster_name) (and the private-address pair) to catch a value overridden with C(-e).
  - "Host names: the leader is C(<cluster>-leader) (stable across relaunches, easy to type with
    C(--limit)); a worker is C(<cluster>-<instance id>)."
  - "Host variables: V(toil_cluster_name), V(toil_instance_id), V(toil_node_type) (leader or worker),
    V(toil_state), V(toil_zone) (the configured zone), V(toil_availability_zone) (the instance's own),
    V(toil_region), V(toil_public_ip), V(toil_private_ip), V(toil_instance_type), V(toil_launch_time)
    (ISO 8601), V(toil_tags) (a dict), V(toil_cluster_type) (kubernetes or mesos, from the tags),
    V(toil_known_hosts_file), V(ansible_host) (public IP, or private with O(use_private_ip)),
    V(ansible_user=core) and V(ansible_connection=genomics.cactus.toil_appliance), which runs every task
    inside the leader's C(toil_leader) container (see
    C(ansible-doc -t connection genomics.cactus.toil_appliance)). The leader also gets
    V(ansible_python_interpreter=/usr/bin/python3), the appliance's Python. Workers also get
    V(toil_container_name): C(toil_worker) on Mesos clusters, empty on Kubernetes clusters (no appliance
    there: tasks run on the Flatcar host, where only C(raw) works)."
  - "AWS failures stop the inventory with one line naming the cause: no or rejected credentials,
    missing permission, an unknown zone or region, an unreachable endpoint. Credentials never appear in
    messages. Keep C(any_unparsed_is_failed = True) in C([inventory]) of C(ansible.cfg) so such a
    failure stops the run instead of leaving an empty inventory."
  - "With O(defer_errors) (the project's C(ansible.cfg) sets it) and C(ansible-playbook), such a failure
    (and a bad cluster name or zone) does not stop the inventory: it is published as V(toil_inventory_error)
    and C(toil_leader) stays empty, so the playbook's first task stops the run with one short message.
    Only for playbooks that check V(toil_inventory_error) (the collection's all do, before any other step)."
  - C(--syntax-check), C(--list-tags) and C(--list-tasks) never ask AWS (no account needed to explore).
  - With the inventory cache on, the raw C(DescribeInstances) result is cached (not the built inventory);
    C(--flush-cache) queries AWS again.
  - The configuration file name must end in C(toil_cluster.yml) or C(toil_cluster.yaml).
author:
  - cactus-aws maintainers (@cactus-aws)
version_added: "1.0.0"
requirements:
  - python >= 3.11
  - boto3
  - botocore
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; must be C(genomics.cactus.toil_cluster).
    type: str
    required: true
    choices: [genomics.cactus.toil_cluster]
  cluster_name:
    description:
      - Name of the Toil cluster (the name given to C(toil launch-cluster)).
      - Toil's rule applies - lowercase, no C(_) - and wildcard characters (C(*), C(?)) are refused.
    type: str
    env:
      - name: TOIL_CLUSTER_NAME
  zone:
    description:
      - Availability zone the cluster was launched in (C(toil launch-cluster --zone)), for example
        C(us-west-2a). The region is derived from it with Toil's rule (C(us-west-2a) -> C(us-west-2)).
      - Defaults to Toil's own C(TOIL_AWS_ZONE).
    type: str
    env:
      - name: TOIL_AWS_ZONE
  profile:
    description:
      - AWS profile (in C(~/.aws/config) / C(~/.aws/credentials)) to use. Unset, boto3's usual chain
        applies (C(AWS_ACCESS_KEY_ID)/C(AWS_SECRET_ACCESS_KEY), the default profile, instance roles).
      - C(AWS_ENDPOINT_URL) is honoured by boto3 (the project's tests point it at a local emulator).
    type: str
    aliases: [aws_profile]
    env:
      - name: AWS_PROFILE
  use_private_ip:
    description:
      - Connect to the private IP address instead of the public one (for a controller inside the VPC or
        behind a bastion; see the C(proxy_jump) option of the C(toil_appliance) connection).
      - Published as V(toil_use_private_ip), which the project's launch and pre-flight use too (Toil's
        own launch cannot go through a bastion; see the README's Governed AWS accounts).
    type: bool
    default: false
  include_workers:
    description:
      - Also list the cluster's workers, in the group C(toil_workers). Autoscaled workers come and go, and
        most plays need only the leader.
    type: bool
    default: false
  known_hosts_dir:
    description:
      - Directory of the per-cluster SSH known_hosts files. Each host gets
        V(toil_known_hosts_file=<known_hosts_dir>/<cluster_name>), which the C(toil_appliance) connection
        uses for trust-on-first-use host key checking (never the user's own C(~/.ssh/known_hosts), never
        C(/dev/null)).
      - C(~) is expanded on the controller when connecting.
    type: path
    default: ~/.ansible/toil_known_hosts
    env:
      - name: TOIL_KNOWN_HOSTS_DIR
  defer_errors:
    description:
      - Under C(ansible-playbook), publish a failed look-up as V(toil_inventory_error) (one line, the
        cause and the fix) instead of failing the inventory, for playbooks that stop on it first thing.
      - Other commands (C(ansible-inventory), C(ansible)) always fail on it.
    type: bool
    default: false
    ini:
      - section: toil_cluster_inventory
        key: defer_errors
    env:
      - name: TOIL_CLUSTER_DEFER_ERRORS
"""

EXAMPLES = r"""
# inventory/toil_cluster.yml - the file name must end in toil_cluster.yml or toil_cluster.yaml.
# Minimal: the leader of cluster my-cactus-run, launched in us-west-2b (region us-west-2).
plugin: genomics.cactus.toil_cluster
cluster_name: my-cactus-run
zone: us-west-2b

# ---
# Name and zone from the environment (TOIL_CLUSTER_NAME, TOIL_AWS_ZONE), a named AWS profile,
# and the workers too:
# plugin: genomics.cactus.toil_cluster
# profile: genomics
# include_workers: true

# ---
# From inside the VPC, with constructed groups and variables, and the raw AWS answer cached for an hour:
# plugin: genomics.cactus.toil_cluster
# cluster_name: my-cactus-run
# zone: us-west-2b
# use_private_ip: true
# include_workers: true
# compose:
#   ansible_python_interpreter: "'/usr/bin/python3'"
#   cactus_owner: toil_tags.Owner
# groups:
#   big_leader: toil_node_type == 'leader' and toil_instance_type.startswith('m5.')
# keyed_groups:
#   - key: toil_instance_type
#     prefix: type
#   - key: toil_tags.Owner
#     prefix: owner
# cache: true
# cache_plugin: ansible.builtin.jsonfile
# cache_connection: ~/.cache/ansible-inventory
# cache_timeout: 3600

# Use it:
#   ansible-inventory -i inventory/toil_cluster.yml --graph
#   ansible toil_leader -i inventory/toil_cluster.yml -m ping
#   ansible-inventory -i inventory/toil_cluster.yml --list --flush-cache   # ask AWS again
"""

import hashlib
import json
import os
from importlib.util import find_spec

from ansible import context
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.plugins.loader import connection_loader
from ansible.utils.display import Display
from ansible.utils.vars import load_extra_vars
from ansible_collections.genomics.cactus.plugins.module_utils import toil_aws
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import (
    CactusError,
    check_cluster_name,
    check_region_known,
    zone_to_region,
)

display = Display()

LEADER_GROUP = "toil_leader"
WORKER_GROUP = "toil_workers"
CONNECTION = "genomics.cactus.toil_appliance"
LEADER_LOGIN_USER = "core"  # Toil's leader and workers: Flatcar's user `core` (node.py coreSSH)

# botocore is imported when AWS is asked, not here: Ansible loads every enabled inventory plugin for every
# source, so a run whose inventory has no toil_cluster file (a host, pre-flight) would pay about 0.1 s for
# it. botocore alone: boto3 is botocore plus what this plugin does not use (about 0.15 s more).
HAS_BOTO3 = find_spec("botocore") is not None


def _botocore():
    import botocore.config
    import botocore.exceptions

    return botocore


_BOTO_CONFIG = {
    "retries": {"max_attempts": 3, "mode": "standard"},
    "connect_timeout": 10,
    "read_timeout": 60,
    "user_agent_extra": "cactus-aws-toil_cluster-inventory",
}


def make_ec2_client(region: str, profile: str | None = None):
    """The EC2 client the plugin uses: boto3's credential chain (or the profile), the zone's region."""
    botocore = _botocore()
    session = toil_aws.botocore_session(profile=profile or None)
    ec2 = session.create_client("ec2", region_name=region, config=botocore.config.Config(**_BOTO_CONFIG))
    return session, ec2


def query_cluster(ec2, cluster: str, zone: str) -> dict:
    """The raw data the inventory is built from (and what the cache stores): one paginated
    DescribeInstances, plus DescribeAvailabilityZones only when no instance is found."""
    instances = toil_aws.describe_cluster_instances(ec2, cluster)
    found = any(toil_aws.in_cluster(i, cluster) for i in instances)
    return {
        "instances": instances,
        "zone_exists": None if found else toil_aws.zone_exists(ec2, zone),
    }


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "genomics.cactus.toil_cluster"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("toil_cluster.yml", "toil_cluster.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        skip = None
        listing = [f"--{o.replace('list', 'list-')}" for o in ("listtags", "listtasks")
                   if context.CLIARGS.get(o)]
        if context.CLIARGS.get("syntax") or listing:
            # ansible-playbook --syntax-check (and ansible-lint, which runs it), --list-tags, --list-tasks
            # need no hosts: never touch AWS (or the instance metadata address boto3 probes) for them.
            skip = (listing or ["--syntax-check"])[0]
        elif load_extra_vars(loader).get("cactus_target_hosts"):
            # -e cactus_target_hosts=HOST: the run goes to a host of the user's inventory, with no AWS call.
            skip = "cactus_target_hosts is set (a run on an inventory host)"
        if skip:
            self._publish_settings(
                (self.get_option("cluster_name") or "").strip(), (self.get_option("zone") or "").strip(), ""
            )
            display.vvv(f"toil_cluster: {skip}, AWS not queried")
            return
        try:
            self._find(path, cache)
        except AnsibleError as e:
            # Under ansible-playbook "listtags" is always in CLIARGS; ansible-inventory has no such key.
            if not (self.get_option("defer_errors") and "listtags" in context.CLIARGS):
                raise
            self._publish_settings(
                (self.get_option("cluster_name") or "").strip(), (self.get_option("zone") or "").strip(), ""
            )
            self.inventory.set_variable("all", "toil_inventory_error", to_native(e.message))
            display.vvv(f"toil_cluster: look-up failed, left to the playbook: {e.message}")

    def _find(self, path, cache):
        """Look the cluster up in AWS and add its leader (and workers)."""
        if not HAS_BOTO3:
            raise AnsibleError("toil_cluster inventory: boto3 and botocore are required (pip install boto3)")

        try:
            cluster = check_cluster_name((self.get_option("cluster_name") or "").strip(), "cluster_name")
            zone = (self.get_option("zone") or "").strip()
            region = zone_to_region(zone, "zone")
            check_region_known(zone, region, toil_aws.known_regions(), "zone")
        except CactusError as e:
            raise AnsibleError(f"toil_cluster inventory: {e}") from None

        profile = self.get_option("profile") or None
        include_workers = self.get_option("include_workers")

        self._publish_settings(cluster, zone, region)
        raw = self._raw_data(path, cache, cluster, zone, region, profile)
        try:
            leader, workers = toil_aws.find_nodes(raw["instances"], cluster, region)
        except CactusError as e:
            raise AnsibleError(f"toil_cluster inventory: {e}") from None

        if leader is None:
            if raw.get("zone_exists") is False:
                raise AnsibleError(
                    f"toil_cluster inventory: AWS zone/region: zone {zone!r} does not exist in region "
                    f"{region} (check zone in the inventory file or TOIL_AWS_ZONE)"
                )
            display.vvv(f"toil_cluster: no cluster {cluster!r} in {region}: group {LEADER_GROUP} is empty")
            return

        placed = (leader.get("Placement") or {}).get("AvailabilityZone")
        if placed and placed != zone:
            display.warning(
                f"toil_cluster: the leader of cluster {cluster!r} is in zone {placed}, not {zone} as "
                "configured (found anyway: Toil looks clusters up by region); set zone to the launch zone"
            )
        kubernetes = toil_aws.is_kubernetes(leader, cluster)
        self._add_node(leader, f"{cluster}-leader", LEADER_GROUP, cluster, zone, region, kubernetes)
        # Ansible forks a worker for each task, and a plugin first loaded in a worker is loaded again (its
        # documentation parsed) in every task: the leader's connection, loaded once here in the parent
        # process, spares each task on the leader 20-40 ms (about 1 s of a whole-playbook re-run).
        connection_loader.get(CONNECTION, class_only=True)
        if include_workers:
            for worker in sorted(workers, key=lambda i: i.get("InstanceId", "")):
                name = f"{cluster}-{worker.get('InstanceId')}"
                self._add_node(worker, name, WORKER_GROUP, cluster, zone, region, kubernetes)

    def _publish_settings(self, cluster, zone, region):
        """The groups, and the run's identity once for every play (localhost plays included)."""
        self.inventory.add_group(LEADER_GROUP)
        if self.get_option("include_workers"):
            self.inventory.add_group(WORKER_GROUP)
        for key, value in (
            ("toil_cluster_name", cluster),
            ("toil_inventory_cluster_name", cluster),
            ("toil_zone", zone),
            ("toil_region", region),
            ("toil_use_private_ip", bool(self.get_option("use_private_ip"))),
            ("toil_inventory_use_private_ip", bool(self.get_option("use_private_ip"))),
        ):
            self.inventory.set_variable("all", key, value)

    # ---- AWS, through the cache ----

    def _raw_data(self, path, cache, cluster, zone, region, profile) -> dict:
        botocore = _botocore()
        try:
            session, ec2 = make_ec2_client(region, profile)
        except botocore.exceptions.BotoCoreError as e:
            raise AnsibleError(self._error_line(e, None, region, zone, profile)) from None

        query = json.dumps([cluster, region, zone, profile, ec2.meta.endpoint_url])
        cache_key = f"{self.get_cache_key(path)}_{hashlib.sha256(query.encode()).hexdigest()[:12]}"
        use_cache = self.get_option("cache")
        # cache=False when --flush-cache (or refresh_inventory) asks for fresh data.
        if use_cache and cache:
            try:
                cached = self._cache[cache_key]
                if isinstance(cached, dict) and "instances" in cached:
                    display.vvv(f"toil_cluster: using cached AWS data for cluster {cluster!r} ({cache_key})")
                    return cached
            except KeyError:
                pass

        try:
            raw = query_cluster(ec2, cluster, zone)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise AnsibleError(self._error_line(e, session, region, zone, profile)) from None
        display.vvv(
            f"toil_cluster: DescribeInstances in {region} for cluster {cluster!r}: "
            f"{len(raw['instances'])} instance(s)"
        )
        if use_cache:
            self._cache[cache_key] = raw
        return raw

    @staticmethod
    def _error_line(exc, session, region, zone, profile) -> str:
        line = toil_aws.aws_error_message(
            exc, region=region, zone=zone, profile=profile, action="ec2:DescribeInstances"
        )
        secrets = [os.environ.get("AWS_SECRET_ACCESS_KEY"), os.environ.get("AWS_SESSION_TOKEN")]
        if session is not None:
            try:
                creds = session.get_credentials()
                if creds is not None:
                    frozen = creds.get_frozen_credentials()
                    secrets += [frozen.secret_key, frozen.token]
            except Exception:  # noqa: S110 - best effort: scrubbing must never hide the real error
                pass
        return "toil_cluster inventory: " + toil_aws.scrub(to_native(line), secrets)

    # ---- hosts ----

    def _add_node(self, instance, name, group, cluster, zone, region, kubernetes):
        tags = toil_aws.tags_of(instance)
        public_ip = instance.get("PublicIpAddress") or ""
        private_ip = instance.get("PrivateIpAddress") or ""
        node_type = "leader" if group == LEADER_GROUP else "worker"
        hostvars = {
            "toil_cluster_name": cluster,
            "toil_instance_id": instance.get("InstanceId"),
            "toil_node_type": node_type,
            "toil_state": toil_aws.state_of(instance),
            "toil_zone": zone,
            "toil_availability_zone": (instance.get("Placement") or {}).get("AvailabilityZone", ""),
            "toil_region": region,
            "toil_public_ip": public_ip,
            "toil_private_ip": private_ip,
            "toil_instance_type": instance.get("InstanceType", ""),
            "toil_launch_time": toil_aws.launch_time(instance).isoformat(),
            "toil_tags": tags,
            "toil_cluster_type": "kubernetes" if kubernetes else "mesos",
            "toil_known_hosts_file": os.path.join(self.get_option("known_hosts_dir"), cluster),
            "ansible_user": LEADER_LOGIN_USER,
            "ansible_connection": CONNECTION,
        }
        address = private_ip if self.get_option("use_private_ip") else public_ip
        if address:
            hostvars["ansible_host"] = address
        else:
            kind = "private" if self.get_option("use_private_ip") else "public"
            display.warning(
                f"toil_cluster: {node_type} {instance.get('InstanceId')} of cluster {cluster!r} has no "
                f"{kind} IP address (state {hostvars['toil_state']})"
                + ("" if self.get_option("use_private_ip") else "; set use_private_ip: true inside the VPC")
            )
        if node_type == "leader" and hostvars["toil_state"] not in toil_aws.WORKER_STATES:
            display.warning(
                f"toil_cluster: the leader {instance.get('InstanceId')} of cluster {cluster!r} is "
                f"{hostvars['toil_state']}: start it (aws ec2 start-instances) or destroy the cluster"
            )
        if node_type == "worker":
            hostvars["toil_container_name"] = "" if kubernetes else "toil_worker"
        else:  # the appliance's Python: no interpreter look-up (a round trip) in each play
            hostvars["ansible_python_interpreter"] = "/usr/bin/python3"

        self.inventory.add_host(name, group=group)
        for key, value in hostvars.items():
            self.inventory.set_variable(name, key, value)

        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
        # Composed variables are visible to groups and keyed_groups.
        hostvars = self.inventory.get_host(name).get_vars()
        self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name, strict=strict)
