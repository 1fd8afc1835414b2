# Governed AWS accounts: subnet, instance profile, security groups, tags, pinned images; and the
# run's marker tag. Pure checks, no AWS calls (pre-flight asks AWS about what these accept).

from __future__ import annotations

import re

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import RUN_TAG_KEY, VARS
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import (
    CactusError,
    toil_claims,
    toil_role_name,
)

# What launch-cluster 9.4.1 does with them (toil/utils/toilLaunchCluster.py, AWSProvisioner.launchCluster):
# --vpcSubnet places the leader (workers go to like subnets of its VPC); --awsEc2ProfileArn replaces
# the IAM role + instance profile Toil would make (<name>_toil, iam:*/ec2:*/s3:* on everything);
# --awsEc2ExtraSecurityGroupId adds groups beside the one Toil makes; --tag K=V goes on the leader,
# its volumes and every worker (and TOIL_AWS_TAGS, which launch-cluster reads only when no --tag is
# given, is set in the leader's appliance from them: Toil's job store bucket gets them from there).
# TOIL_AWS_AMI skips the Flatcar feed; TOIL_APPLIANCE_SELF picks the appliance, which the launch looks
# up in its registry over the network (anonymously) unless the name carries Toil's commit: the user
# data (AbstractProvisioner, applianceSelf() without forceDockerAppliance) does it even with
# --forceDockerAppliance, after the security group and IAM role exist. So no --forceDockerAppliance
# here: pre-flight makes the same look-up first.

# EC2's tag rules (S3's are the same): key 1-128 characters, value 0-256, the prefix "aws:" reserved,
# letters (any script), digits, spaces and _ . : / = + - @; at most 50 tags on a resource. Toil's
# --tag splits on '=', so neither key nor value may hold one here.
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAGS_PER_RESOURCE_MAX = 50
TAG_TEXT_RE = re.compile(r"^[\w .:/+@-]*$")
TAG_CHARACTERS_FIX = "use letters, digits, spaces and _ . : / + - @ (no '=': Toil splits the tag on '=')"
# Tags Toil writes itself: Name, clusterName and ToilNodeType are how Toil (and this project) find the
# cluster and its leader; Owner has its own variable; plus sshKeyName and kubernetes.io/cluster/<name>.
TOIL_TAG_KEYS = {"Name": None, "clusterName": None, "ToilNodeType": None, "sshKeyName": None,
                 "Owner": "toil_owner"}
TOIL_TAG_PREFIX = "kubernetes.io/cluster/"
TOIL_TAG_COUNT = len(TOIL_TAG_KEYS) + 1  # + the kubernetes one
SUBNET_ID_RE = re.compile(r"^subnet-[0-9a-f]{8,17}$")
SECURITY_GROUP_ID_RE = re.compile(r"^sg-[0-9a-f]{8,17}$")
AMI_ID_RE = re.compile(r"^ami-[0-9a-f]{8,17}$")
INSTANCE_PROFILE_ARN_RE = re.compile(r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:instance-profile/([\w+=,.@/-]*/)?"
                                     r"(?P<name>[\w+=,.@-]{1,128})$")
# A pinned image: [registry/]repository:tag or @sha256:digest (Docker's reference grammar, simplified).
IMAGE_RE = re.compile(r"^(?P<repository>[a-z0-9]+([._-]+[a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*)"
                      r"(?P<pin>:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")


def check_tag(key, value, variable):
    """One tag by EC2's rules (and Toil's '=' split); the message names `variable`."""
    if not isinstance(key, str) or not key or len(key) > TAG_KEY_MAX:
        raise CactusError(variable, f"tag key {key!r} must be 1-{TAG_KEY_MAX} characters",
                          "shorten it (EC2's limit)")
    if key.lower().startswith("aws:"):
        raise CactusError(variable, f"tag key {key!r} starts with 'aws:', which AWS reserves",
                          "pick another key")
    if "=" in key or not TAG_TEXT_RE.match(key):
        raise CactusError(variable, f"tag key {key!r} holds characters EC2 or Toil refuse",
                          TAG_CHARACTERS_FIX)
    if not isinstance(value, str) or len(value) > TAG_VALUE_MAX:
        raise CactusError(variable, f"the value of tag {key!r} must be text of at most {TAG_VALUE_MAX} "
                          "characters", "shorten it (EC2's limit)")
    if "=" in value or not TAG_TEXT_RE.match(value):
        raise CactusError(variable, f"the value {value!r} of tag {key!r} holds characters EC2 or Toil refuse",
                          TAG_CHARACTERS_FIX)


def check_user_tags(tags, run_tag_key=RUN_TAG_KEY):
    """toil_tags: {key: value} by EC2's rules, none of Toil's own keys nor the run's marker.

    Numbers are taken as their text (YAML reads `CostCenter: 1234` as a number). Returns {str: str}.
    """
    variable = VARS["tags"]
    if tags in (None, ""):
        return {}
    if not isinstance(tags, dict):
        raise CactusError(variable, f"{tags!r} is not a mapping of tag keys to values",
                          "give e.g. {CostCenter: '1234', Team: genomics}")
    checked = {}
    for key, value in tags.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if key in TOIL_TAG_KEYS or str(key).startswith(TOIL_TAG_PREFIX) or key == run_tag_key:
            own = TOIL_TAG_KEYS.get(key)
            raise CactusError(variable, f"tag key {key!r} is one this run writes itself",
                              f"set {own} instead" if own else "drop it, or pick another key")
        check_tag(key, value, variable)
        checked[key] = value
    room = TAGS_PER_RESOURCE_MAX - TOIL_TAG_COUNT - 1
    if len(checked) > room:
        raise CactusError(variable, f"{len(checked)} tags; with Toil's own {TOIL_TAG_COUNT} and the run's "
                          f"marker an instance would carry more than EC2's {TAGS_PER_RESOURCE_MAX}",
                          f"keep at most {room}")
    return checked


def check_vpc_subnet(subnet_id):
    """toil_vpc_subnet: empty (the zone's default subnet) or a subnet id."""
    if not subnet_id:
        return None
    if not isinstance(subnet_id, str) or not SUBNET_ID_RE.match(subnet_id):
        raise CactusError(VARS["vpc_subnet"], f"{subnet_id!r} is not a subnet id",
                          "give the id of a subnet in toil_zone, e.g. subnet-0abc1234def567890")
    return subnet_id


def check_security_group_ids(groups):
    """toil_extra_security_groups: security group ids (Toil takes ids, not names)."""
    variable = VARS["extra_security_groups"]
    if groups in (None, ""):
        return []
    if isinstance(groups, str) or not isinstance(groups, (list, tuple)):
        raise CactusError(variable, f"{groups!r} is not a list", "give a list of ids, e.g. [sg-0abc1234]")
    for group in groups:
        if not isinstance(group, str) or not SECURITY_GROUP_ID_RE.match(group):
            raise CactusError(variable, f"{group!r} is not a security group id (Toil takes ids, not names)",
                              "give ids such as sg-0abc1234def567890")
    if len(set(groups)) != len(groups):
        raise CactusError(variable, f"{groups} names a group twice", "list each group once")
    return list(groups)


def instance_profile_name(arn):
    """The name in an instance profile ARN (arn:aws:iam::<account>:instance-profile/[path/]name)."""
    match = INSTANCE_PROFILE_ARN_RE.match(arn or "")
    if not match:
        raise CactusError(VARS["instance_profile_arn"], f"{arn!r} is not an instance profile ARN",
                          "give arn:aws:iam::<account>:instance-profile/<name> (aws iam get-instance-profile "
                          "shows it; a role ARN is not an instance profile ARN)")
    return match.group("name")


def check_instance_profile(arn, cluster_name, role_names=()):
    """toil_instance_profile_arn: empty (Toil makes <name>_toil), or an existing profile's ARN whose
    name, and whose roles' names, toil destroy-cluster would not delete (it deletes IAM roles and
    instance profiles by the cluster's name prefix). Returns the profile's name or None."""
    if not arn:
        return None
    name = instance_profile_name(arn)
    for kind, claimed in [("instance profile", name)] + [("role", role) for role in role_names]:
        if toil_claims(cluster_name, claimed):
            raise CactusError(VARS["instance_profile_arn"], f"toil destroy-cluster {cluster_name} would "
                              f"delete the {kind} {claimed} (Toil deletes IAM roles and instance profiles "
                              "by the cluster's name prefix)", "use a profile and role whose names do not "
                              f"start with '{toil_role_name(cluster_name, '')}', or another "
                              "toil_cluster_name")
    return name


def check_ami(ami):
    if not ami:
        return None
    if not isinstance(ami, str) or not AMI_ID_RE.match(ami):
        raise CactusError(VARS["aws_ami"], f"{ami!r} is not an AMI id",
                          "give an image id such as ami-0abc1234def567890 (a Flatcar image of the region)")
    return ami


def check_appliance_image(image):
    """toil_appliance_image: empty (the image of the controller's Toil), or a pinned image reference,
    also checked by Toil's own checkDockerSchema."""
    if not image:
        return None
    variable = VARS["appliance_image"]
    fix = "give registry/repository:tag or @sha256:digest, e.g. quay.io/ucsc_cgl/toil:9.4.1-<commit>-py3.11"
    if not isinstance(image, str) or not IMAGE_RE.match(image):
        raise CactusError(variable, f"{image!r} is not a pinned image reference (a tag or digest is needed)",
                          fix)
    if image.endswith(":latest"):
        raise CactusError(variable, f"{image!r} is not pinned: 'latest' moves", fix)
    try:
        _toil_check_docker_schema(image)
    except Exception as error:  # Toil's ImageNotFound
        raise CactusError(variable, f"Toil refuses {image!r}: {error}", fix) from None
    return image


def toil_commit():
    """The commit of the controller's Toil, which its default appliance image carries."""
    from toil.version import currentCommit

    return currentCommit


def appliance_image_lookup(image):
    """How Toil's launch checks the appliance image (toil.checkDockerImageExists): None (none given),
    'skipped' (its name carries Toil's commit), or 'registry' (an anonymous request to its registry)."""
    if not image:
        return None
    return "skipped" if toil_commit() in image else "registry"


def _toil_check_docker_schema(image):
    from toil import checkDockerSchema

    checkDockerSchema(image)


def resource_tags(owner, user_tags, run_tag_key, run_tag_value):
    """The tags of everything the run makes: Owner, the user's, the run's marker (in that order)."""
    return {"Owner": owner, **user_tags, run_tag_key: run_tag_value}


def governed_settings(settings, cluster_name, tags):
    """The plan's record of how the run fits the account (all checked here, offline)."""
    profile = settings.instance_profile_arn or None
    check_instance_profile(profile, cluster_name)
    return {
        "vpc_subnet": check_vpc_subnet(settings.vpc_subnet),
        "use_private_ip": bool(settings.use_private_ip),
        "instance_profile_arn": profile,
        # Without a profile Toil makes IAM role and instance profile <name>_toil (iam:*, ec2:*, s3:*).
        "creates_iam_role": profile is None,
        "extra_security_groups": check_security_group_ids(settings.extra_security_groups),
        "tags": tags,
        "aws_ami": check_ami(settings.aws_ami),
        "appliance_image": check_appliance_image(settings.appliance_image),
        "appliance_image_lookup": appliance_image_lookup(settings.appliance_image),
    }


def governed_launch_options(governed):
    """launch-cluster options for the governed settings (the tags are added by launch_cluster_argv)."""
    argv = []
    if governed["vpc_subnet"]:
        argv += ["--vpcSubnet", governed["vpc_subnet"]]
    if governed["instance_profile_arn"]:
        argv += ["--awsEc2ProfileArn", governed["instance_profile_arn"]]
    for group in governed["extra_security_groups"]:
        argv += ["--awsEc2ExtraSecurityGroupId", group]
    return argv


def governed_summary(governed):
    """One line for the plan's summary, or None when nothing is set."""
    parts = []
    if governed["vpc_subnet"]:
        parts.append(f"subnet {governed['vpc_subnet']}")
    if governed["use_private_ip"]:
        parts.append("private addresses")
    if governed["instance_profile_arn"]:
        parts.append(f"instance profile {governed['instance_profile_arn']} (Toil creates no IAM role)")
    if governed["extra_security_groups"]:
        parts.append(f"extra security groups {', '.join(governed['extra_security_groups'])}")
    if governed["aws_ami"]:
        parts.append(f"AMI {governed['aws_ami']}")
    if governed["appliance_image"]:
        parts.append(f"appliance {governed['appliance_image']}")
    return f"account: {'; '.join(parts)}" if parts else None


def check_run_tag(key, value):
    """The run's marker tag, by the same rules as every tag (check_tag)."""
    check_tag(key, value, VARS["run_tag"])
