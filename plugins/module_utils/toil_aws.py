# How Toil 9.4.1 finds the nodes of a cluster on AWS, as small functions without Ansible in them, so the
# inventory plugin (plugins/inventory/toil_cluster.py), modules, tests and benchmarks share one set of rules.
#
# Toil's rules, read off toil/provisioners/aws/awsProvisioner.py (9.4.1; the code wins over any notes):
# - _get_nodes_in_cluster_boto3: describe_instances filtered by `instance.group-name = <cluster>` (the
#   security group NAME, which launch-cluster makes equal to the cluster name; not a tag), then states:
#   pending/running, plus stopping/stopped when include_stopped_nodes.
# - _getLeaderInstanceBoto3: nodes WITH stopped ones (include_stopped_nodes=True), sorted by LaunchTime;
#   the earliest is the leader and its ToilNodeType tag must say "leader", else
#   InvalidClusterStateException ("The safest recovery is to destroy the cluster and restart the job").
#   Nothing found: NoSuchClusterException.
# - getProvisionedWorkers: pending/running nodes of the group other than the leader.
# - which instance is the leader: find_nodes below (the inventory plugin and the toil_cluster_state
#   filter); the naming rules (zone to region, cluster names, job store, IAM role) live in toil_rules.py.
#
# Where this module is stricter than Toil, on purpose:
# - the earliest node must CARRY ToilNodeType=leader (Toil 9.4.1 accepts a node without any tags, and
#   fails with a bare StopIteration on tags without ToilNodeType);
# - every instance must have a security group named exactly like the cluster (checked again on the
#   client: AWS filter values treat `*` and `?` as wildcards), and names with wildcard characters are
#   refused;
# - with equal LaunchTimes (AWS reports seconds) the node tagged leader comes first, then the instance id:
#   Toil keeps the API's order there, which AWS does not define.
# - server-side filters also on instance-state-name (Toil filters the states on the client), and
#   paginated (Toil reads one page).

from __future__ import annotations

import datetime
import functools
import json

from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

TAG_NODE_TYPE = "ToilNodeType"
TAG_CLUSTER_NAME = "clusterName"
TAG_KUBERNETES_PREFIX = "kubernetes.io/cluster/"

# _getLeaderInstanceBoto3 calls _get_nodes_in_cluster_boto3(include_stopped_nodes=True).
LEADER_STATES = ("pending", "running", "stopping", "stopped")
# getProvisionedWorkers calls it without stopped nodes.
WORKER_STATES = ("pending", "running")

# botocore error codes, by cause.
_CREDENTIAL_CODES = {
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidAccessKeyId",
    "InvalidToken",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
}
_PERMISSION_CODES = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "Forbidden"}
_REGION_CODES = {"OptInRequired", "InvalidRegion"}


# botocore session_vars that ignore AWS_PROFILE: botocore's own data needs no profile, and a bad profile
# is reported by the AWS call that needs it.
NO_PROFILE = {"profile": (None, None, None, None)}


@functools.cache
def botocore_loader():
    """botocore's data loader (endpoints, partitions, service models), one per process: it keeps what it
    has read, where every new botocore session would read (and parse) botocore's data files again."""
    import botocore.loaders
    import botocore.session

    return botocore.loaders.create_loader(
        botocore.session.Session(session_vars=NO_PROFILE).get_config_variable("data_path")
    )


def botocore_session(**kwargs):
    """A botocore session (botocore.session.Session's arguments) with the process's data loader."""
    import botocore.session

    session = botocore.session.Session(**kwargs)
    session.register_component("data_loader", botocore_loader())
    return session


def known_regions() -> set[str]:
    """Every region botocore knows, in every partition (no network)."""
    session = botocore_session(session_vars=NO_PROFILE)
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(
            session.get_available_regions("ec2", partition_name=partition, allow_non_regional=False)
        )
    return regions


# ---- the API calls (one paginated describe_instances; the zone check only when nothing is found) ----


def cluster_filters(cluster: str) -> list[dict]:
    return [
        {"Name": "instance.group-name", "Values": [cluster]},
        {"Name": "instance-state-name", "Values": list(LEADER_STATES)},
    ]


def describe_cluster_instances(ec2, cluster: str) -> list[dict]:
    """Every pending/running/stopping/stopped instance in the cluster's security group, JSON-safe."""
    paginator = ec2.get_paginator("describe_instances")
    instances: list[dict] = []
    for page in paginator.paginate(Filters=cluster_filters(cluster)):
        for reservation in page.get("Reservations", []):
            instances.extend(reservation.get("Instances", []))
    return jsonable(instances)


def zone_exists(ec2, zone: str) -> bool:
    """True when the zone exists in the client's region (AWS answers an error, moto an empty list)."""
    from botocore.exceptions import ClientError

    try:
        zones = ec2.describe_availability_zones(ZoneNames=[zone]).get("AvailabilityZones", [])
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code == "InvalidParameterValue" or code.startswith("InvalidZone"):
            return False
        raise
    return any(z.get("ZoneName") == zone for z in zones)


def jsonable(value):
    """Raw API data with datetimes as ISO 8601 strings (what a JSON cache stores and gives back)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.isoformat()
    return value


# ---- Toil's rules on the raw data ----


def tags_of(instance: dict) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in instance.get("Tags") or [] if t.get("Key") is not None}


def launch_time(instance: dict) -> datetime.datetime:
    value = instance.get("LaunchTime")
    if isinstance(value, datetime.datetime):
        parsed = value
    else:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def state_of(instance: dict) -> str:
    return (instance.get("State") or {}).get("Name", "")


def in_cluster(instance: dict, cluster: str) -> bool:
    """In the cluster's security group (exact name), in a state Toil's leader lookup keeps."""
    groups = {g.get("GroupName") for g in instance.get("SecurityGroups") or []}
    return cluster in groups and state_of(instance) in LEADER_STATES


def find_nodes(instances: list[dict], cluster: str, region: str = "") -> tuple[dict | None, list[dict]]:
    """(leader, workers) of one cluster, by Toil's rules. leader is None when the cluster does not exist.
    Raises CactusError when the earliest instance is not tagged as the leader."""
    nodes = [i for i in instances if in_cluster(i, cluster)]
    if not nodes:
        return None, []
    nodes.sort(
        key=lambda i: (launch_time(i), tags_of(i).get(TAG_NODE_TYPE) != "leader", i.get("InstanceId", ""))
    )
    leader = nodes[0]
    node_type = tags_of(leader).get(TAG_NODE_TYPE)
    if node_type != "leader":
        found = f"{TAG_NODE_TYPE}={node_type}" if node_type is not None else f"no {TAG_NODE_TYPE} tag"
        where = f" in {region}" if region else ""
        raise CactusError(
            "toil_cluster_name",
            f"Toil cluster {cluster!r}{where} is in an invalid state: its earliest instance "
            f"{leader.get('InstanceId')} (launched {leader.get('LaunchTime')}) is not tagged "
            f"{TAG_NODE_TYPE}=leader ({found}), so neither Toil nor this project can tell which instance "
            "is the leader",
            f"Toil's advice: destroy the cluster (toil destroy-cluster -z <zone> {cluster}) and launch it "
            "again, or pick another cluster name",
        )
    workers = [i for i in nodes[1:] if state_of(i) in WORKER_STATES]
    return leader, workers


def is_kubernetes(instance: dict, cluster: str) -> bool:
    return TAG_KUBERNETES_PREFIX + cluster in tags_of(instance)


# ---- errors ----


def aws_error_message(exc: Exception, *, region: str, zone: str, profile: str | None, action: str) -> str:
    """One line naming the cause of a boto3/botocore failure: credentials, permission, zone/region,
    endpoint. Never includes credentials (callers scrub the line again with scrub())."""
    from botocore import exceptions as bx

    where = f"region {region} (zone {zone})"
    if isinstance(exc, bx.ProfileNotFound):
        return (
            f"AWS credentials: profile {profile!r} is not defined in the AWS config/credentials files. "
            f"Fix: create it (aws configure --profile {profile}), or set AWS_PROFILE (or profile in "
            "inventory/toil_cluster.yml) to a profile of ~/.aws/credentials"
        )
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return (
            "AWS credentials: none found (" + str(exc) + "). Fix: export AWS_PROFILE=<profile> (made with "
            "aws configure --profile <profile>), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, bx.CredentialRetrievalError):
        return f"AWS credentials: could not be loaded: {exc}"
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", "")
        if code in _CREDENTIAL_CODES:
            return (
                f"AWS credentials rejected by EC2 in {where}: {code}: {message} "
                "(wrong, expired or deactivated access key; check the profile or AWS_* variables)"
            )
        if code in _PERMISSION_CODES:
            return (
                f"AWS permission denied in {where}: the credentials are valid but may not call {action} "
                f"({code}: {message}); grant ec2:DescribeInstances and ec2:DescribeAvailabilityZones"
            )
        if code in _REGION_CODES:
            return f"AWS zone/region: {where} is not enabled for this account ({code}: {message})"
        return f"AWS error in {where} calling {action}: {code}: {message}"
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        hint = ""
        if region not in known_regions():
            hint = f"; {region} is not an AWS region known to botocore: check the zone"
        return (
            f"AWS endpoint unreachable for {where}: {endpoint or exc}{hint} (check the network and the zone)"
        )
    return f"AWS error in {where} calling {action}: {type(exc).__name__}: {exc}"


def scrub(text: str, secrets) -> str:
    """Replace every given secret (secret key, session token) in text."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "********")
    return text


# ---- On-demand prices (the plan's cost ceiling) ----------------------------------------------------

# The Price List API answers only in a few regions; us-east-1 serves every region's prices.
PRICING_REGION = "us-east-1"
# Prices only feed the cost estimate: one quick try, no retries.
PRICING_CONFIG = {"retries": {"total_max_attempts": 1}, "connect_timeout": 5, "read_timeout": 15}


def on_demand_prices(region: str, types) -> tuple[dict, str | None]:
    """USD/hour of Linux on-demand instances in `region`, by instance type (unknown ones left out),
    and the problem that stopped the look-up (None when it went through)."""
    import boto3
    import botocore.config
    from botocore.exceptions import BotoCoreError, ClientError

    prices, problem = {}, None
    try:
        pricing = boto3.client("pricing", region_name=PRICING_REGION,
                               config=botocore.config.Config(**PRICING_CONFIG))
        for instance_type in types:
            filters = [
                {"Type": "TERM_MATCH", "Field": name, "Value": value}
                for name, value in (
                    ("instanceType", instance_type),
                    ("regionCode", region),
                    ("operatingSystem", "Linux"),
                    ("tenancy", "Shared"),
                    ("preInstalledSw", "NA"),
                    ("capacitystatus", "Used"),
                    ("licenseModel", "No License required"),
                )
            ]
            answer = pricing.get_products(ServiceCode="AmazonEC2", Filters=filters, MaxResults=1)
            price = price_of(answer.get("PriceList") or [])
            if price is not None:
                prices[instance_type] = price
    except (BotoCoreError, ClientError, ValueError, KeyError) as error:
        problem = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    return prices, problem


# Linux spot prices, in a default VPC or not (what Toil's nodes run).
SPOT_PRODUCTS = ["Linux/UNIX", "Linux/UNIX (Amazon VPC)"]


def spot_prices(ec2, zone: str, types) -> dict:
    """The current spot price (USD/hour) in `zone` by instance type (types without one left out)."""
    import datetime

    latest: dict = {}
    if not types:
        return {}
    paginator = ec2.get_paginator("describe_spot_price_history")
    now = datetime.datetime.now(datetime.UTC)
    pages = paginator.paginate(AvailabilityZone=zone, InstanceTypes=sorted(types),
                               ProductDescriptions=SPOT_PRODUCTS, StartTime=now)
    for page in pages:
        for point in page.get("SpotPriceHistory", []):
            known = latest.get(point["InstanceType"])
            if known is None or point["Timestamp"] > known["Timestamp"]:
                latest[point["InstanceType"]] = point
    return {t: float(p["SpotPrice"]) for t, p in latest.items()}


def price_of(price_list) -> float | None:
    """The on-demand USD price in a Price List API answer."""
    for item in price_list:
        product = json.loads(item) if isinstance(item, str) else item
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if usd is not None and float(usd) > 0:
                    return float(usd)
    return None
