# The checks of toil_preflight (its manual: plugins/modules/toil_preflight.py), each asking AWS or
# ssh-agent and judging the answers with module_utils/toil_preflight.py. They run in the controller's own
# process, from the action plugin plugins/action/toil_preflight.py; `module` is what they use of an
# Ansible module there: params, region, client(service), fail_json(msg=...), get_bin_path(name),
# run_command(argv, environ_update=...) and warn(msg).

import re

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # the action plugin reports a missing boto3
    BotoCoreError = ClientError = None

from ansible_collections.genomics.cactus.plugins.module_utils import toil_aws
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_governed import (
    appliance_image_lookup,
    check_instance_profile,
    toil_commit,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_sizing import instance_architecture
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_slurm import check_slurm
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import toil_role_name
from ansible_collections.genomics.cactus.plugins.module_utils.toil_preflight import (
    DEFAULT_MAX_AGENT_KEYS,
    QUOTAS,
    PreflightError,
    all_instance_types,
    check_agent_keys,
    check_key_pair_found,
    check_zone_available,
    check_ami_found,
    check_bids,
    check_default_subnet,
    check_extra_security_groups,
    check_instance_profile_found,
    check_pass_role,
    check_subnet,
    parse_routes,
    private_route_warnings,
    check_cluster_hazards,
    check_hal_bucket,
    check_jobstore_bucket,
    check_leader_storage,
    check_names,
    check_output_bucket,
    check_offered,
    check_quota,
    existing_clusters,
    format_usd,
    hal_bucket,
    jobstore_bucket,
    parsed_node_types,
    quota_kind,
    vcpu_needs,
)


def _required(module, *names):
    missing = [n for n in names if module.params.get(n) in (None, "")]
    if missing:
        module.fail_json(msg=f"toil_preflight check={module.params['check']} needs {', '.join(missing)}")


def _aws_fail(module, error, what, fix):
    code = ""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
        fix = f"give the credentials permission for {what} (read-only)"
    module.fail_json(msg=f"AWS: cannot {what}: {error}. Fix: {fix}")


# ---- names ---------------------------------------------------------------------------------------


def run_names(module):
    _required(module, "cluster_name", "zone", "output")
    p = module.params
    result = check_names(
        p["cluster_name"], p["zone"], p["output"], toil_aws.known_regions(), p["jobstore_name"],
        p["staging_url"], p["region"] or "",
    )
    return {
        "msg": f"names are usable: cluster {p['cluster_name']}, zone {p['zone']} ({result['region']}), "
        f"output {p['output']} ({result['output_kind']})",
        **result,
    }, []


# ---- agent ---------------------------------------------------------------------------------------


def run_agent(module):
    _required(module, "key_pair_name", "key_fingerprint")
    p = module.params
    key = p["key_pair_name"]
    sock = p["ssh_auth_sock"]
    if not sock:
        raise PreflightError(
            "toil_key_pair_name",
            f"no ssh-agent (SSH_AUTH_SOCK is not set): Toil and Ansible "
            f"log in to the leader with the key of '{key}' from ssh-agent",
            f"start one and add the key: eval $(ssh-agent) && ssh-add <private key of '{key}'>",
        )
    ssh_add = module.get_bin_path("ssh-add")
    if not ssh_add:
        module.fail_json(msg="ssh-add not found. Fix: install the OpenSSH client")
    rc, out, err = module.run_command([ssh_add, "-L"], environ_update={"SSH_AUTH_SOCK": sock})
    if rc == 2 or (rc != 0 and "no identities" not in (out + err)):
        raise PreflightError(
            "toil_key_pair_name",
            f"ssh-agent at SSH_AUTH_SOCK={sock} does not answer "
            f"({(err or out).strip() or f'ssh-add exit {rc}'})",
            f"start ssh-agent, export its SSH_AUTH_SOCK, and ssh-add the key of '{key}'",
        )
    result, warnings = check_agent_keys(
        key, p["key_fingerprint"], out if rc == 0 else "", p["max_agent_keys"]
    )
    found = f"holds the key of '{key}' ({result['matched']})" if result["matched"] else "was not compared"
    return {"msg": f"ssh-agent: {result['agent_keys']} key(s); {found}", **result}, warnings


# ---- account -------------------------------------------------------------------------------------


def run_account(module):
    _required(module, "region", "zone", "key_pair_name")
    p = module.params
    try:
        identity = module.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise PreflightError(
            "AWS credentials",
            f"they do not work ({error})",
            "configure them for this shell (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY) and check with: aws sts get-caller-identity",
        ) from None
    ec2 = module.client("ec2")
    try:
        zones = ec2.describe_availability_zones()["AvailabilityZones"]
        key_pairs = ec2.describe_key_pairs()["KeyPairs"]
    except (BotoCoreError, ClientError) as error:
        _aws_fail(module, error, "list the zones and key pairs (ec2:Describe*)",
                  "check the AWS credentials and region")
    check_zone_available(p["zone"], p["region"], zones)
    fingerprint = check_key_pair_found(p["key_pair_name"], p["region"], key_pairs)
    if not p.get("key_fingerprint"):  # the agent check, later in this run, compares with it
        p["key_fingerprint"] = fingerprint
    found = {"account": identity["Account"], "arn": identity["Arn"], "key_fingerprint": fingerprint}
    return {"msg": f"AWS account {found['account']} as {found['arn']}", **found}, []


# ---- clusters ------------------------------------------------------------------------------------


def _paginate(client, operation, key, **kwargs):
    items = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items += page.get(key, [])
    return items


def _tags(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def run_clusters(module):
    _required(module, "cluster_name", "region")
    name = module.params["cluster_name"]
    warnings = []
    ec2 = module.client("ec2")
    try:
        groups = _paginate(ec2, "describe_security_groups", "SecurityGroups")
        reservations = _paginate(
            ec2,
            "describe_instances",
            "Reservations",
            Filters=[
                {"Name": "tag-key", "Values": ["clusterName"]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
            ],
        )
    except (BotoCoreError, ClientError) as error:
        _aws_fail(
            module,
            error,
            "list security groups and instances (ec2:Describe*)",
            "check the AWS credentials and region",
        )
    instances = [i for r in reservations for i in r.get("Instances", [])]
    try:
        roles = [r["RoleName"] for r in _paginate(module.client("iam"), "list_roles", "Roles")]
    except (BotoCoreError, ClientError) as error:
        roles = []
        warnings.append(
            f"could not list IAM roles ({error}): clusters in other regions are not checked for name hazards"
        )
    clusters = existing_clusters(groups, instances, roles)
    report = check_cluster_hazards(name, clusters)
    # The cluster's own security group (Toil names it like the cluster), as ec2_security_group_info
    # gives it: the launch step tags it from here instead of asking AWS again.
    own = [
        {"group_id": g["GroupId"], "group_name": name, "tags": _tags(g)}
        for g in groups
        if g.get("GroupName") == name
    ]
    found = {"msg": report, "clusters": clusters, "cluster_exists": name in clusters, "security_groups": own}
    return found, warnings


# ---- jobstore ------------------------------------------------------------------------------------


def _bucket_holds_objects(module, bucket):
    """Whether a bucket of ours holds any object (a listing refused, e.g. from another region, says no:
    the job store check has already judged that run)."""
    try:
        return module.client("s3").list_objects_v2(Bucket=bucket, MaxKeys=1).get("KeyCount", 0) > 0
    except ClientError:
        return False
    except BotoCoreError as error:
        _aws_fail(module, error, f"list bucket {bucket}", "check the AWS credentials")


def _bucket_status(module, bucket):
    """HTTP status of head_bucket: 200 (exists, ours), 403 (someone else's), 404 (none), or another."""
    try:
        module.client("s3").head_bucket(Bucket=bucket)
        return 200
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            return 404
        if code in ("403", "AccessDenied"):
            return 403
        return 200 if status == 301 else status  # 301: the bucket lives in another region: it exists
    except BotoCoreError as error:
        _aws_fail(module, error, f"ask S3 about bucket {bucket}", "check the AWS credentials")


def run_jobstore(module):
    _required(module, "jobstore_name", "region")
    p = module.params
    bucket = jobstore_bucket(p["jobstore_name"])
    status = _bucket_status(module, bucket)
    this_run = (
        bool(p["recorded_jobstore"]) and p["recorded_jobstore"] == f"aws:{module.region}:{p['jobstore_name']}"
    )
    report = check_jobstore_bucket(p["jobstore_name"], status, p["restart"], this_run, module.region)
    hal_status = _bucket_status(module, hal_bucket(p["jobstore_name"]))
    holds = hal_status == 200 and _bucket_holds_objects(module, hal_bucket(p["jobstore_name"]))
    hal_report = check_hal_bucket(p["jobstore_name"], hal_status, holds, p["restart"], this_run)
    return {"msg": f"{report}; {hal_report}", "bucket": bucket, "bucket_exists": status == 200}, []


# ---- output --------------------------------------------------------------------------------------


def run_output(module):
    _required(module, "output")
    output = module.params["output"]
    if not output.startswith("s3://"):
        return {"msg": f"output {output} is a local path (checked by the plan)"}, []
    bucket = output[len("s3://"):].split("/", 1)[0]
    return {"msg": check_output_bucket(output, bucket, _bucket_status(module, bucket))}, []


# ---- capacity ------------------------------------------------------------------------------------


def _offered_types(ec2, zone, types):
    offers = []
    for start in range(0, len(types), 100):
        offers += _paginate(
            ec2,
            "describe_instance_type_offerings",
            "InstanceTypeOfferings",
            LocationType="availability-zone",
            Filters=[
                {"Name": "location", "Values": [zone]},
                {"Name": "instance-type", "Values": types[start : start + 100]},
            ],
        )
    return {o["InstanceType"] for o in offers}


def _vcpus(ec2, types):
    counts = {}
    for start in range(0, len(types), 100):
        for item in _paginate(
            ec2, "describe_instance_types", "InstanceTypes", InstanceTypes=types[start : start + 100]
        ):
            counts[item["InstanceType"]] = item["VCpuInfo"]["DefaultVCpus"]
    return counts


def _in_use(ec2, vcpus_of):
    """vCPUs of instances already pending/running in the region, by quota (QUOTAS' kinds)."""
    reservations = _paginate(
        ec2,
        "describe_instances",
        "Reservations",
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}],
    )
    instances = [i for r in reservations for i in r.get("Instances", [])]
    counted = [(i, quota_kind(i["InstanceType"], i.get("InstanceLifecycle") == "spot")) for i in instances]
    missing = sorted({i["InstanceType"] for i, kind in counted if kind and i["InstanceType"] not in vcpus_of})
    if missing:
        vcpus_of.update(_vcpus(ec2, missing))
    used = dict.fromkeys(QUOTAS, 0)
    for instance, kind in counted:
        if kind:
            used[kind] += vcpus_of.get(instance["InstanceType"], 0)
    return used


def _quota(module, code):
    """The applied quota value, or (None, reason) when Service Quotas cannot say."""
    try:
        answer = module.client("service-quotas").get_service_quota(ServiceCode="ec2", QuotaCode=code)
        return answer["Quota"]["Value"], None
    except (BotoCoreError, ClientError) as error:
        return None, str(error)


def run_capacity(module):
    _required(module, "zone", "region", "leader_node_type")
    p = module.params
    zone, leader = p["zone"], p["leader_node_type"]
    if len(p["max_nodes"]) != len(p["node_types"]):
        raise PreflightError(
            "toil_max_nodes",
            f"{len(p['max_nodes'])} values for {len(p['node_types'])} node types",
            "give one value per node type, in the same order",
        )
    parsed = parsed_node_types(p["node_types"])
    types = all_instance_types(parsed, leader)
    ec2 = module.client("ec2")
    try:
        offered = _offered_types(ec2, zone, types)
        warnings = check_offered(parsed, leader, zone, offered)
        spot_types = sorted({t for _, kinds, bid in parsed if bid is not None for t in kinds if t in offered})
        spot_prices = toil_aws.spot_prices(ec2, zone, spot_types)
        warnings += check_bids(parsed, spot_prices, zone)
        vcpus = _vcpus(ec2, sorted(t for t in types if t in offered))
        needs = vcpu_needs(parsed, p["max_nodes"], leader, vcpus)
        used = _in_use(ec2, dict(vcpus))
    except (BotoCoreError, ClientError) as error:
        _aws_fail(
            module,
            error,
            f"describe instance types, offerings and spot prices in {zone}",
            "check the AWS credentials and toil_zone",
        )
    quotas = {}
    for kind, (code, _label) in QUOTAS.items():
        if kind.startswith("gpu") and not needs[kind]:
            continue  # no G or VT node type: their quotas are not the plan's business
        value, problem = _quota(module, code) if needs[kind] else (None, None)
        quotas[kind] = {
            "code": code,
            "quota": value,
            "needed": needs[kind],
            "in_use": used[kind],
            "unreadable": problem,
        }
        try:
            warnings += check_quota(kind, needs[kind], value, used[kind], code)
        except PreflightError as error:
            if p["fail_on_quota"]:
                raise
            warnings.append(str(error))
    if needs["unchecked"]:
        warnings.append(
            f"{', '.join(needs['unchecked'])} are outside the Standard and the G and VT vCPU quotas: "
            "check their family's quota yourself"
        )
    bids = ", ".join(f"{t} ${format_usd(v)}" for t, v in sorted(spot_prices.items())) or "no spot node types"
    msg = (
        f"zone {zone} offers every node type; spot prices now: {bids}; vCPUs needed: "
        f"{needs['spot']} spot, {needs['on_demand']} on demand"
        + (f", G and VT {needs['gpu_spot']} spot, {needs['gpu_on_demand']} on demand"
           if needs["gpu_spot"] or needs["gpu_on_demand"] else "")
    )
    return {
        "msg": msg,
        "spot_prices": spot_prices,
        "vcpus": vcpus,
        "quotas": quotas,
    }, warnings


# ---- storage -------------------------------------------------------------------------------------


def run_storage(module):
    _required(module, "leader_storage")
    p = module.params
    warnings = check_leader_storage(p["genomes"], p["leader_storage"], p["output_kind"])
    return {"msg": f"the local genomes fit on the leader's {p['leader_storage']} GB"}, warnings


# ---- governed --------------------------------------------------------------------------------------

# Best-effort look-ups (PassRole simulation): one quick try.
QUICK_CONFIG = {"retries": {"total_max_attempts": 1}, "connect_timeout": 5, "read_timeout": 15}
ROUTES_FILE = "/proc/net/route"


def _not_found(call, codes):
    """The call's answer, or None when AWS answers with one of `codes` (the thing does not exist)."""
    try:
        return call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code", "") in codes:
            return None
        raise


def _controller_routes():
    try:
        with open(ROUTES_FILE, encoding="ascii") as handle:
            return parse_routes(handle.read())
    except OSError:
        return None


def _pass_role_decisions(module, role_arns):
    """iam:PassRole for the caller on the roles, by IAM's policy simulator; None when it cannot say."""
    try:
        caller = module.client("sts").get_caller_identity()["Arn"]
        # An assumed role's session ARN -> the role's ARN, which the simulator takes.
        source = re.sub(
            r"^arn:(aws[a-z-]*):sts::(\d+):assumed-role/([^/]+)/.*$", r"arn:\1:iam::\2:role/\3", caller
        )
        iam = module.client("iam", config=QUICK_CONFIG)
        answer = iam.simulate_principal_policy(
            PolicySourceArn=source, ActionNames=["iam:PassRole"], ResourceArns=role_arns
        )
        return answer["EvaluationResults"]
    except Exception:  # noqa: BLE001 - best effort (an emulator may not know the simulator: a 500)
        return None


def _check_appliance_image(image):
    """Toil's own registry look-up (checkDockerImageExists: an anonymous HTTPS request to the registry),
    which it skips for a name that carries its commit. Returns a report line."""
    if appliance_image_lookup(image) == "skipped":
        return (
            f"appliance image {image} carries Toil's commit: Toil does not look it up (the leader pulls it)"
        )
    from toil import checkDockerImageExists

    try:
        checkDockerImageExists(image)
    except Exception as error:  # Toil's ImageNotFound, or requests' connection errors
        raise PreflightError(
            "toil_appliance_image",
            f"Toil cannot find {image} in its registry ({str(error).splitlines()[0][:200]})",
            "fix the image; for a registry that needs a login (ECR), mirror the image under a name that "
            f"carries Toil's commit ({toil_commit()}), which Toil 9.4.1 never looks up (its launch does the "
            "look-up even with --forceDockerAppliance)",
        ) from None
    return f"appliance image {image} is in its registry"


def run_governed(module):
    _required(module, "cluster_name", "zone", "region")
    if module.params["aws_ami"]:
        _required(module, "leader_node_type")
    p = module.params
    zone, subnet_id = p["zone"], p["vpc_subnet"]
    ec2 = module.client("ec2")
    lines, warnings = [], []
    try:
        defaults = _paginate(
            ec2,
            "describe_subnets",
            "Subnets",
            Filters=[
                {"Name": "default-for-az", "Values": ["true"]},
                {"Name": "availability-zone", "Values": [zone]},
            ],
        )
        check_default_subnet(zone, defaults[0]["SubnetId"] if defaults else None, subnet_id)
        subnet = defaults[0]
        if subnet_id:
            found = _not_found(
                lambda: ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"], ("InvalidSubnetID.NotFound",)
            )
            subnet = found[0] if found else None
            line, public = check_subnet(subnet_id, subnet, zone, p["use_private_ip"])
            lines.append(line)
        public = bool(subnet.get("MapPublicIpOnLaunch"))
        warnings += private_route_warnings(
            subnet.get("CidrBlock"), public, p["use_private_ip"], _controller_routes(), p["proxy_jump"]
        )
        groups = {}
        for group_id in p["extra_security_groups"]:
            answer = _not_found(
                lambda g=group_id: ec2.describe_security_groups(GroupIds=[g])["SecurityGroups"],
                ("InvalidGroup.NotFound", "InvalidGroupId.Malformed"),
            )
            if answer:
                groups[group_id] = answer[0]
        lines.append(
            check_extra_security_groups(
                p["extra_security_groups"], groups, subnet["VpcId"], p["cluster_name"]
            )
        )
        if p["aws_ami"]:
            images = _not_found(
                lambda: ec2.describe_images(ImageIds=[p["aws_ami"]])["Images"],
                ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidAMIID.Malformed"),
            )
            # The leader's and the workers' instance types ("c5.4xlarge/c5a.4xlarge:0.42" -> both).
            types = all_instance_types(parsed_node_types(p["node_types"]), p["leader_node_type"])
            architectures = {t: instance_architecture(t) for t in types}
            lines.append(check_ami_found(p["aws_ami"], images[0] if images else None, architectures))
    except (BotoCoreError, ClientError) as error:
        _aws_fail(
            module,
            error,
            "describe subnets, security groups and images (ec2:DescribeSubnets, ec2:DescribeSecurityGroups, "
            "ec2:DescribeImages)",
            "check the AWS credentials and region",
        )
    arn = p["instance_profile_arn"]
    if arn:
        try:
            answer = _not_found(
                lambda: module.client("iam").get_instance_profile(InstanceProfileName=arn.rsplit("/", 1)[-1]),
                ("NoSuchEntity",),
            )
        except (BotoCoreError, ClientError) as error:
            _aws_fail(
                module, error, "read the instance profile (iam:GetInstanceProfile)", "check the credentials"
            )
        line, role_arns = check_instance_profile_found(
            arn, answer["InstanceProfile"] if answer else None, p["cluster_name"]
        )
        lines.append(line)
        decisions = _pass_role_decisions(module, role_arns)
        if decisions is None:
            warnings.append(
                "could not ask IAM's policy simulator whether your credentials may pass the profile's role "
                "(iam:PassRole): the launch fails at once if they may not"
            )
        warnings += check_pass_role(decisions)
    else:
        lines.append(
            "no instance profile given: Toil creates IAM role and instance profile "
            f"{toil_role_name(p['cluster_name'])} (iam:*, ec2:*, s3:* on every resource)"
        )
    if p["appliance_image"]:
        lines.append(_check_appliance_image(p["appliance_image"]))
    return {
        "msg": "\n".join(line for line in lines if line),
        "vpc_id": subnet["VpcId"],
        "public_addresses": public,
        "creates_iam_role": not arn,
    }, warnings


def run_profile_guard(module):
    _required(module, "cluster_name", "instance_profile_arn")
    p = module.params
    arn = p["instance_profile_arn"]
    roles = []
    try:
        answer = _not_found(
            lambda: module.client("iam").get_instance_profile(InstanceProfileName=arn.rsplit("/", 1)[-1]),
            ("NoSuchEntity",),
        )
        roles = [r["RoleName"] for r in (answer or {}).get("InstanceProfile", {}).get("Roles", [])]
    except (BotoCoreError, ClientError):
        pass  # the profile's own name is still checked
    check_instance_profile(arn, p["cluster_name"], roles)
    return {"msg": f"toil destroy-cluster {p['cluster_name']} leaves instance profile {arn} alone"}, []
# ---- slurm (a login node, no AWS) -----------------------------------------------------------------


def run_slurm(module):
    _required(module, "slurm_probe")
    p = module.params
    facts, warnings = check_slurm(p["slurm_probe"], p["slurm_partition"], p["slurm_time"])
    time = p["slurm_time"] or f"{facts['time_limit']} (its limit)"
    msg = (f"Slurm partition {facts['name']} is up, a job of {time} fits it, and sbatch --test-only "
           "accepted a job (none submitted)")
    return {"msg": msg, "partition": facts}, warnings


CHECKS = {
    "names": run_names,
    "account": run_account,
    "agent": run_agent,
    "clusters": run_clusters,
    "jobstore": run_jobstore,
    "output": run_output,
    "capacity": run_capacity,
    "storage": run_storage,
    "governed": run_governed,
    "profile_guard": run_profile_guard,
    "slurm": run_slurm,
}


# The module's options (amazon.aws's AWS options come on top: module_utils/aws_session.py).
ARGUMENT_SPEC = dict(
    check=dict(type="list", elements="str", required=True, choices=sorted(CHECKS)),
    cluster_name=dict(type="str"),
    zone=dict(type="str"),
    jobstore_name=dict(type="str"),
    output=dict(type="str"),
    staging_url=dict(type="str", default=""),
    key_pair_name=dict(type="str"),
    key_fingerprint=dict(type="str", no_log=False),
    ssh_auth_sock=dict(type="str", default=""),
    max_agent_keys=dict(type="int", default=DEFAULT_MAX_AGENT_KEYS, no_log=False),
    require_agent=dict(type="bool", default=True),
    restart=dict(type="bool", default=False),
    recorded_jobstore=dict(type="str", default=""),
    node_types=dict(type="list", elements="str", default=[]),
    max_nodes=dict(type="list", elements="int", default=[]),
    leader_node_type=dict(type="str"),
    fail_on_quota=dict(type="bool", default=True),
    genomes=dict(type="list", elements="dict", default=[]),
    leader_storage=dict(type="int"),
    output_kind=dict(type="str", default="s3"),
    vpc_subnet=dict(type="str", default=""),
    use_private_ip=dict(type="bool", default=False),
    proxy_jump=dict(type="str", default=""),
    extra_security_groups=dict(type="list", elements="str", default=[]),
    instance_profile_arn=dict(type="str", default=""),
    aws_ami=dict(type="str", default=""),
    appliance_image=dict(type="str", default=""),
    slurm_probe=dict(type="dict"),
    slurm_partition=dict(type="str", default=""),
    slurm_time=dict(type="str", default=""),
)


def run(module):
    """The checks module.params["check"] names, in that order: the result (each check's findings under its
    name, and `msg`, one line each) and the warnings, which have gone to module.warn. The first problem
    goes to module.fail_json with the variable to change (after the warnings found before it); an
    ssh-agent problem is a warning when module.params["require_agent"] is false."""
    result, messages, warnings = {"changed": False}, [], []
    for check in module.params["check"]:
        try:
            found, found_warnings = CHECKS[check](module)
        except PreflightError as error:
            if check != "agent" or module.params["require_agent"]:
                for warning in warnings:
                    module.warn(warning)
                module.fail_json(msg=str(error), variable=error.variable, check=check, **result)
            found, found_warnings = {"msg": f"ssh-agent not checked: {error}"}, [str(error)]
        messages.append(found.pop("msg"))
        result[check] = found
        warnings += found_warnings
    for warning in warnings:
        module.warn(warning)
    return {**result, "msg": "\n".join(messages), "preflight_warnings": warnings}
