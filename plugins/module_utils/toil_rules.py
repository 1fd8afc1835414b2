# The one home of Toil's and Cactus's naming rules, and of the one error type every check raises.
# Used by the inventory plugin, the modules and (through filters) the roles; nothing else spells
# these rules out again (no Jinja copies). Pure Python, no Ansible and no AWS calls.
#
# Toil 9.4.1's rules, read off its code (the code wins over any notes):
# - zone_to_region (toil/lib/aws/__init__.py): `^([a-z]{2}-[a-z]+-[1-9][0-9]*)([a-z])$`.
# - AWSProvisioner._toNameSpace / _namespace_name: the cluster's IAM role is
#   "<name with - as _>_toil", and destroy-cluster deletes every role under the name's namespace.
# - AWS job store (Toil >= 9.1): one bucket "<job store name>--toil"; locator "aws:<region>:<name>".

from __future__ import annotations

import re
import shlex

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import VARS

IAM_ROLE_NAME_MAX = 64
IAM_ROLE_SUFFIX = "_toil"
CLUSTER_NAME_MAX = IAM_ROLE_NAME_MAX - len(IAM_ROLE_SUFFIX)  # 59
CLUSTER_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# Characters AWS filter values read as patterns: a name holding them could match other clusters.
PATTERN_CHARS = set("*?\\,")
ZONE_RE = re.compile(r"^([a-z]{2}-[a-z]+-[1-9][0-9]*)([a-z])$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[1-9][0-9]*$")
JOBSTORE_BUCKET_SUFFIX = "--toil"
HAL_BUCKET_SUFFIX = "--hal"


class CactusError(ValueError):
    """A bad input or state: names the variable to change, the problem, and the fix."""

    def __init__(self, variable, problem, fix):
        self.variable, self.problem, self.fix = variable, problem, fix
        super().__init__(f"{variable}: {problem}. Fix: {fix}")


# ---- Zone and region ---------------------------------------------------------------------------

def zone_to_region(zone, variable="toil_zone"):
    """Region of an availability zone by Toil's rule (us-west-2a -> us-west-2); a bare region gets
    a message of its own (toil launch-cluster places the leader in one zone)."""
    if not zone:
        raise CactusError(variable, "no zone", "give an availability zone, e.g. us-west-2a")
    if isinstance(zone, str) and REGION_RE.match(zone):
        raise CactusError(variable, f"'{zone}' is a region, but an availability zone is required "
                          "(toil launch-cluster places the leader in one zone)",
                          f"give one of its zones, e.g. {zone}a")
    match = ZONE_RE.match(zone if isinstance(zone, str) else "")
    if not match:
        raise CactusError(variable, f"'{zone}' is not an availability zone",
                          "give a zone such as us-west-2a (a region such as us-west-2 is not enough)")
    return match.group(1)


def check_region_known(zone, region, known_regions, variable="toil_zone"):
    """A region botocore does not know would send requests to a host that does not exist."""
    if known_regions and region not in known_regions:
        from difflib import get_close_matches

        close = get_close_matches(region, sorted(known_regions), 3, 0.5)
        hint = f"e.g. {', '.join(close)}" if close else "see aws ec2 describe-regions"
        raise CactusError(variable, f"'{zone}' is in '{region}', which is not an EC2 region",
                          f"use a zone of an EC2 region ({hint})")


# ---- The cluster name ---------------------------------------------------------------------------

def check_cluster_name(name, variable="toil_cluster_name"):
    """Lowercase letters, digits and single hyphens, starting with a letter, at most 59 characters.

    Toil's own check (AWSProvisioner._toNameSpace) only refuses uppercase and '_', and only after
    AWS is being touched. The length comes from the IAM role "<name with - as _>_toil" (<= 64); the
    security group is named exactly the cluster name, and EC2 refuses group names "sg-*"; AWS filter
    values read '*' and '?' as patterns.
    """
    if not isinstance(name, str) or not name:
        raise CactusError(variable, "no cluster name", "give one, e.g. cactus-birds")
    pattern = sorted(PATTERN_CHARS.intersection(name))
    if pattern:
        raise CactusError(variable, f"'{name}' contains {''.join(pattern)!r}: AWS filters would read it as "
                          "a pattern and could match other clusters", "use lowercase letters, digits and "
                          "single hyphens")
    if len(name) > CLUSTER_NAME_MAX:
        raise CactusError(variable, f"'{name}' has {len(name)} characters; Toil's IAM role "
                          f"'{toil_role_name(name)}' would exceed {IAM_ROLE_NAME_MAX}",
                          f"use at most {CLUSTER_NAME_MAX} characters")
    if not CLUSTER_NAME_RE.match(name):
        raise CactusError(variable, f"'{name}' is not lowercase letters, digits and single hyphens "
                          "starting with a letter", "rename it, e.g. cactus-run-1")
    if name.startswith("sg-"):
        raise CactusError(variable, f"'{name}' starts with 'sg-', which EC2 refuses for the cluster's "
                          "security group name", "pick another prefix")
    return name


def toil_namespace(name):
    """AWSProvisioner._toNameSpace: '/a/b/' for cluster 'a-b'."""
    return ("/" + name + "/").replace("-", "/")


def toil_role_name(name, local_name="toil"):
    """AWSProvisioner._namespace_name: the IAM role/profile name Toil makes for the cluster."""
    return (toil_namespace(name) + local_name)[1:].replace("_", "__").replace("/", "_")


def toil_claims(cluster_name, role_name):
    """AWSProvisioner._is_our_namespaced_name: would destroy-cluster `cluster_name` delete role_name?"""
    denamespaced = "/" + "_".join(s.replace("_", "/") for s in role_name.split("__"))
    return denamespaced.startswith(toil_namespace(cluster_name))


def names_conflict(a, b):
    """True when destroying cluster a deletes b's IAM role, or the reverse (a hyphen-prefix pair).

    destroy-cluster deletes every IAM role whose de-namespaced name starts with '/<name>/' with
    hyphens as '/': 'cactus' claims 'cactus_run_toil', the role of cluster 'cactus-run'.
    The same name twice is one cluster, not a conflict.
    """
    if a == b:
        return False
    return toil_claims(a, toil_role_name(b)) or toil_claims(b, toil_role_name(a))


def cluster_of_role(role_name):
    """The cluster name a Toil IAM role belongs to ('a_b_toil' -> 'a-b'), or None."""
    suffix = IAM_ROLE_SUFFIX
    if role_name.endswith(suffix) and "__" not in role_name and len(role_name) > len(suffix):
        return role_name[: -len(IAM_ROLE_SUFFIX)].replace("_", "-")
    return None


# ---- The job store ------------------------------------------------------------------------------

def jobstore_bucket(jobstore_name):
    """The S3 bucket of Toil's AWS job store."""
    return f"{jobstore_name}{JOBSTORE_BUCKET_SUFFIX}"


def hal_bucket(jobstore_name):
    """The S3 bucket a prepare_toil run owns for its HAL (named after its job store)."""
    return f"{jobstore_name}{HAL_BUCKET_SUFFIX}"


def jobstore_locator(region, jobstore_name):
    """The job store argument of toil and cactus: aws:<region>:<name>."""
    return f"aws:{region}:{jobstore_name}"


def jobstore_name_of(locator):
    """The job store name in a locator aws:<region>:<name>; any other locator (a file job store's
    path) is returned as it is, and None or "" as ""."""
    match = re.match(r"^aws:[^:]+:(.*)$", locator or "")
    return match.group(1) if match else (locator or "")


# ---- Into the leader's appliance ----------------------------------------------------------------

APPLIANCE_CONTAINER = "toil_leader"  # the leader's container (toil ssh-cluster: docker exec -i toil_leader)
APPLIANCE_CONNECTIONS = ("genomics.cactus.toil_appliance", "toil_appliance")


def appliance_exec_argv(container=APPLIANCE_CONTAINER, docker_command="docker", user=""):
    """`docker exec -i [-u user] <container>`: how a command gets into Toil's appliance on the leader
    host, as `toil ssh-cluster` does (used by the toil_appliance connection and the transfer's rsync)."""
    argv = shlex.split(docker_command or "docker") + ["exec", "-i"]
    if user:
        argv += ["-u", user]
    return argv + [container]


# ---- Names checked by Toil's own parser ---------------------------------------------------------

def _toil_check_jobstore(locator_tail):
    from toil.jobStores.aws.jobStore import parse_jobstore_identifier

    return parse_jobstore_identifier(locator_tail)


def check_jobstore_name(name, region):
    """Return the job store locator aws:<region>:<name>, checked by Toil's parse_jobstore_identifier."""
    variable = VARS["jobstore_name"]
    if not isinstance(name, str) or ":" in name:
        raise CactusError(variable, f"{name!r} is not a plain job store name",
                          "give the name only; the plan adds aws:<region>:")
    try:
        _toil_check_jobstore(f"{region}:{name}")
    except ValueError as error:
        raise CactusError(variable, f"Toil refuses '{name}': {error}", "use 3-56 lowercase letters, "
                          "digits and single hyphens, not at either end") from None
    return jobstore_locator(region, name)


def check_cluster_name_hazards(name, existing):
    for other in existing or ():
        if names_conflict(name, other):
            raise CactusError(VARS["cluster_name"], f"'{name}' and the existing cluster '{other}' are "
                              "hyphen-prefixes of each other: destroy-cluster on one deletes the "
                              "other's IAM role", "pick a name that neither starts with the other's "
                              "name plus '-' nor is such a prefix of it")
