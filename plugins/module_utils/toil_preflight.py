# Pre-flight checks of a Toil cluster run on AWS: the decisions, as pure functions.
#
# The checks of module_utils/toil_preflight_run.py (the toil_preflight action runs them) ask AWS and
# ssh-agent; the answers come here to be judged. Nothing here does I/O, so every rule has a unit test
# (tests/unit/test_toil_preflight.py).
# Names, zones, job store names and the cluster-name hazard are Toil's rules (module_utils/toil_rules.py),
# node types the planner's (module_utils/cactus_sizing.py, cactus_governed.py): they are called from
# here, not repeated.
#
# Every failure names the user variable and the fix, in the planner's shape:
#   "<variable>: <problem>. Fix: <fix>"

import base64
import binascii
import hashlib
import ipaddress
import math
import re
import socket
import struct

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_governed import check_instance_profile
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_paths import (
    check_staging_url,
    output_kind,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_sizing import (
    GB,
    default_leader_storage,
    parse_node_type,
)
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import (
    CactusError,
    check_jobstore_name,
    check_cluster_name,
    check_region_known,
    cluster_of_role,
    hal_bucket,
    jobstore_bucket,
    names_conflict,
    zone_to_region,
)

# Toil's security group description (AWSProvisioner._createSecurityGroups).
TOIL_SECURITY_GROUP_DESCRIPTION = "Toil appliance security group"
# OpenSSH's default MaxAuthTries is 6: an agent offering more keys than this before the right one
# makes the leader's sshd hang up ("Too many authentication failures", toil #3914).
DEFAULT_MAX_AGENT_KEYS = 5
# EC2 vCPU quotas (Service Quotas, service code "ec2"). The "Standard" ones cover the families
# A, C, D, H, I, M, R, T and Z; other families (F, G, P, X, Inf, DL, Trn, HPC, Mac...) have their own.
QUOTA_SPOT_STANDARD = "L-34B43A08"  # All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests
QUOTA_ON_DEMAND_STANDARD = "L-1216C47A"  # Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances
# The G and VT families (GPU nodes, cactus_gpu) have their own pair, counted the same way.
QUOTA_SPOT_GPU = "L-3819A6DF"  # All G and VT Spot Instance Requests
QUOTA_ON_DEMAND_GPU = "L-DB2E81BA"  # Running On-Demand G and VT instances
# {kind: (quota code, label)}; vcpu_needs counts each kind, run_capacity reads each quota.
QUOTAS = {
    "spot": (QUOTA_SPOT_STANDARD, "spot"),
    "on_demand": (QUOTA_ON_DEMAND_STANDARD, "on-demand"),
    "gpu_spot": (QUOTA_SPOT_GPU, "G and VT spot"),
    "gpu_on_demand": (QUOTA_ON_DEMAND_GPU, "G and VT on-demand"),
}
STANDARD_FAMILY_LETTERS = set("acdhimrtz")
NON_STANDARD_PREFIXES = ("inf", "hpc", "mac", "dl", "trn")
# A bid this close above the current spot price is outbid often: warn.
SPOT_BID_MARGIN = 1.2


# The one error type (variable, problem, fix), under the name this module's callers know.
PreflightError = CactusError


# ---- Names (no AWS) ------------------------------------------------------------------------------


def check_names(cluster_name, zone, output, known_regions=None, jobstore_name=None, staging_url="",
                region_override=""):
    """The run's names, before AWS is asked anything. Returns {'region', 'output_kind'}.

    `known_regions` (botocore's EC2 regions) keeps a typo from sending requests to a host that
    does not exist. The job store name is checked with Toil's own parser before its bucket is asked for.
    `region_override`: the region the later steps use (toil_region), which must be the zone's.
    """
    check_cluster_name(cluster_name)
    region = zone_to_region(zone)
    check_region_known(zone, region, known_regions)
    if region_override and region_override != region:
        raise PreflightError("toil_region", f"'{region_override}' is not the region of toil_zone '{zone}' "
                             f"({region})", "drop the toil_region override")
    kind = output_kind(output)
    if jobstore_name:
        check_jobstore_name(jobstore_name, region)
    if staging_url:
        check_staging_url(staging_url)
    return {"region": region, "output_kind": kind}


# ---- Key pair and ssh-agent ----------------------------------------------------------------------


def parse_agent_keys(text):
    """`ssh-add -L` output -> [{'type', 'blob', 'comment'}] (blob: the key in OpenSSH wire format)."""
    keys = []
    for line in (text or "").splitlines():
        parts = line.strip().split(None, 2)
        if len(parts) < 2:
            continue
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            continue
        keys.append({"type": parts[0], "blob": blob, "comment": parts[2] if len(parts) > 2 else ""})
    return keys


def _colon_hex(digest):
    return ":".join(f"{b:02x}" for b in digest)


def agent_key_fingerprints(key):
    """Every form in which EC2 (or moto) may show this public key's fingerprint, normalized.

    Imported RSA: MD5 of the public key in DER (SubjectPublicKeyInfo), colon hex.
    ED25519 (imported or made by AWS): SHA256, base64 (as ssh-keygen -l; AWS pads it with '=');
    moto gives the SHA256 of the DER form in colon hex instead.
    """
    found = {"sha256:" + base64.b64encode(hashlib.sha256(key["blob"]).digest()).decode().rstrip("=")}
    der = _public_key_der(key)
    if der is not None:
        found.add(_colon_hex(hashlib.md5(der).digest()))  # noqa: S324 - EC2's fingerprint, not security
        found.add(_colon_hex(hashlib.sha256(der).digest()))
    return found


def _public_key_der(key):
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        return None
    line = f"{key['type']} {base64.b64encode(key['blob']).decode()}".encode()
    try:
        public = serialization.load_ssh_public_key(line)
        return public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, TypeError):
        return None


def ec2_fingerprint_kind(fingerprint):
    """'md5' (imported RSA), 'sha1' (RSA made by AWS: of the PRIVATE key), 'sha256', or 'unknown'."""
    fp = (fingerprint or "").strip()
    if re.match(r"^([0-9a-fA-F]{2}:){15}[0-9a-fA-F]{2}$", fp):
        return "md5"
    if re.match(r"^([0-9a-fA-F]{2}:){19}[0-9a-fA-F]{2}$", fp):
        return "sha1"
    if re.match(r"^([0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2}$", fp) or re.match(
        r"^(SHA256:)?[A-Za-z0-9+/]{43}=?$", fp
    ):
        return "sha256"
    return "unknown"


def _normalize_ec2_fingerprint(fingerprint):
    fp = fingerprint.strip()
    if fp.upper().startswith("SHA256:"):
        return "sha256:" + fp[len("SHA256:") :].rstrip("=")
    if re.match(r"^([0-9a-fA-F]{2}:)+[0-9a-fA-F]{2}$", fp):
        return fp.lower()
    return "sha256:" + fp.rstrip("=")


def check_zone_available(zone, region, zones):
    """`zones`: describe_availability_zones' answer for the region."""
    available = sorted(z["ZoneName"] for z in zones if z.get("State") == "available")
    if zone not in available:
        raise CactusError("toil_zone", f"'{zone}' is not an available zone of {region} (available there: "
                          f"{', '.join(available)})", "pick one of those")


def check_key_pair_found(key_name, region, key_pairs):
    """`key_pairs`: describe_key_pairs' answer for the region. Returns EC2's fingerprint of the key."""
    for pair in key_pairs:
        if pair.get("KeyName") == key_name:
            return pair.get("KeyFingerprint")
    names = ", ".join(sorted(p.get("KeyName", "") for p in key_pairs)) or "none"
    raise CactusError("toil_key_pair_name",
                      f"key pair '{key_name}' does not exist in {region} (there: {names})",
                      f"import your public key there (aws ec2 import-key-pair --region {region} --key-name "
                      f"{key_name} --public-key-material fileb://~/.ssh/id_rsa.pub) or set "
                      "toil_key_pair_name to one of those")


def check_agent_keys(key_name, ec2_fingerprint, agent_output, max_keys=DEFAULT_MAX_AGENT_KEYS):
    """Judge the keys ssh-agent holds against the key pair. Returns (result dict, warnings).

    Raises PreflightError when the agent holds no key or, where EC2's fingerprint can be compared,
    none of them is the key pair's.
    """
    keys = parse_agent_keys(agent_output)
    warnings = []
    if not keys:
        raise PreflightError(
            "toil_key_pair_name",
            "ssh-agent holds no key, so Toil and Ansible cannot "
            f"log in to the leader with key pair '{key_name}'",
            f"ssh-add the private key of '{key_name}'",
        )
    if len(keys) > max_keys:
        warnings.append(
            f"ssh-agent holds {len(keys)} keys (more than {max_keys}): sshd on the leader may "
            'hang up before the right one is tried ("Too many authentication failures"); '
            f"keep only the key of '{key_name}' in the agent (ssh-add -D, then ssh-add it)"
        )
    kind = ec2_fingerprint_kind(ec2_fingerprint)
    result = {"agent_keys": len(keys), "fingerprint_kind": kind, "matched": None}
    if kind in ("sha1", "unknown"):
        reason = (
            "the key pair was created by AWS, whose fingerprint is the SHA1 of the private key, "
            "which the agent does not show"
            if kind == "sha1"
            else f"EC2's fingerprint '{ec2_fingerprint}' has an unknown form"
        )
        warnings.append(
            f"cannot tell whether ssh-agent holds key pair '{key_name}': {reason}; make sure "
            "the private key you downloaded from AWS is loaded (ssh-add)"
        )
        return result, warnings
    wanted = _normalize_ec2_fingerprint(ec2_fingerprint)
    matches = [k for k in keys if wanted in agent_key_fingerprints(k)]
    if not matches:
        mine = ", ".join(f"{k['type']} {k['comment'] or '(no comment)'}" for k in keys)
        raise PreflightError(
            "toil_key_pair_name",
            f"none of the {len(keys)} key(s) in ssh-agent ({mine}) "
            f"is key pair '{key_name}' (EC2 fingerprint {ec2_fingerprint})",
            f"ssh-add the private key of '{key_name}', or set toil_key_pair_name to the "
            "key pair of a key the agent holds",
        )
    result["matched"] = matches[0]["comment"] or matches[0]["type"]
    return result, warnings


# ---- Existing clusters ---------------------------------------------------------------------------


def existing_clusters(security_groups, instances, role_names):
    """Toil clusters visible in the account: {name: {'sources': [...], 'instances': [...]}}.

    Sources: a security group Toil made (its description, or an instance tagged clusterName that is
    in it), instances tagged clusterName (pending/running/stopping/stopped), and IAM roles
    '<name with - as _>_toil' (global: they are what destroy-cluster deletes by prefix).
    """
    found = {}

    def add(name, source):
        entry = found.setdefault(name, {"sources": [], "instances": []})
        if source not in entry["sources"]:
            entry["sources"].append(source)
        return entry

    tagged = set()
    for instance in instances:
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags") or []}
        name = tags.get("clusterName")
        if not name:
            continue
        tagged.add(name)
        entry = add(name, "instances tagged clusterName")
        entry["instances"].append(
            {
                "id": instance.get("InstanceId"),
                "state": (instance.get("State") or {}).get("Name"),
                "role": tags.get("ToilNodeType", ""),
                "launch_time": str(instance.get("LaunchTime", "")),
                "public_ip": instance.get("PublicIpAddress"),
            }
        )
    for group in security_groups:
        name = group.get("GroupName", "")
        if (
            name
            and name != "default"
            and (group.get("Description") == TOIL_SECURITY_GROUP_DESCRIPTION or name in tagged)
        ):
            add(name, f"security group {group.get('GroupId', name)}")
    for role in role_names:
        if cluster_of_role(role):
            add(cluster_of_role(role), f"IAM role {role}")
    for entry in found.values():
        entry["instances"].sort(key=lambda i: i["launch_time"])
    return dict(sorted(found.items()))


def check_cluster_hazards(cluster_name, clusters):
    """Refuse a name that is a hyphen-prefix of an existing cluster's, or the reverse (the planner's
    names_conflict: destroy-cluster on one deletes the other's IAM role). Returns a report line."""
    for other, entry in clusters.items():
        if names_conflict(cluster_name, other):
            raise PreflightError(
                "toil_cluster_name",
                f"'{cluster_name}' and the existing cluster '{other}' "
                f"(found: {', '.join(entry['sources'])}) are hyphen-prefixes of each other: "
                "toil destroy-cluster on one would delete the other's IAM role",
                "pick a name that neither starts with the other's name plus '-' nor is such a prefix of it",
            )
    mine = clusters.get(cluster_name)
    if not mine:
        return f"cluster '{cluster_name}' does not exist yet: launch will create it"
    alive = [i for i in mine["instances"] if i["state"] in ("pending", "running")]
    leader = next((i for i in alive if i["role"] == "leader"), None)
    where = f"leader {leader['id']} ({leader['state']})" if leader else "no running leader"
    return (
        f"cluster '{cluster_name}' already exists ({where}; found: {', '.join(mine['sources'])}): "
        "launch will reuse it"
    )


# ---- Job store -----------------------------------------------------------------------------------


def check_jobstore_bucket(jobstore_name, status, restart, this_run=False, region="<region>"):
    """`status`: HTTP status of head_bucket on '<name>--toil' (200 ours, 403 someone else's, 404 free).

    `this_run`: the controller's run record (cactus_run_dir/run.json, written when the alignment
    starts) names this job store, so the bucket is this run's own: a re-run of the playbook goes on,
    and the align step decides (running or finished: skip; interrupted: asks for --tags restart).
    Returns a report line; raises when the bucket is not what this run needs.
    """
    bucket = jobstore_bucket(jobstore_name)
    if status == 403:
        raise PreflightError(
            "toil_jobstore_name",
            f"bucket '{bucket}' exists and belongs to another AWS account (S3 bucket names are global)",
            "pick another toil_jobstore_name",
        )
    if status == 200 and not restart and not this_run:
        raise PreflightError(
            "toil_jobstore_name",
            f"job store bucket '{bucket}' already exists, and no run of this project started it "
            "(no run record in cactus_run_dir names it); Toil refuses to create a job store again",
            "set cactus_restart=true to resume that run, delete it with "
            f"'toil clean aws:{region}:{jobstore_name}', or pick another toil_jobstore_name",
        )
    if status == 404 and restart:
        raise PreflightError(
            "cactus_restart",
            f"there is no job store bucket '{bucket}' to restart from (a successful run deletes it)",
            "set cactus_restart=false to start afresh, or fix toil_jobstore_name",
        )
    if status not in (200, 404):
        raise PreflightError(
            "toil_jobstore_name",
            f"S3 answered {status} for bucket '{bucket}'",
            "check your credentials' S3 permissions (s3:ListBucket)",
        )
    if status == 200 and restart:
        return f"job store bucket '{bucket}' exists: the run restarts from it"
    if status == 200:
        return (
            f"job store bucket '{bucket}' exists and is this run's (its run record names it): "
            "the align step goes on with it"
        )
    return f"job store bucket '{bucket}' is free"


def check_hal_bucket(jobstore_name, status, holds_objects, restart, this_run=False):
    """The bucket a prepare_toil run writes its HAL to, <name>--hal (checked for every run, since the
    workflow is planned later): it must not be another account's, and a fresh run must not overwrite
    the HAL of an earlier run (teardown keeps that bucket until asked)."""
    bucket = hal_bucket(jobstore_name)
    if status == 403:
        raise PreflightError(
            "toil_jobstore_name",
            f"bucket '{bucket}' (where a prepare_toil run writes its HAL) belongs to another AWS account",
            "pick another toil_jobstore_name",
        )
    if status == 200 and holds_objects and not restart and not this_run:
        raise PreflightError(
            "toil_jobstore_name",
            f"bucket '{bucket}' holds the HAL of an earlier run, which this run would overwrite",
            f"fetch it (aws s3 sync s3://{bucket} .) and empty the bucket, or pick another "
            "toil_jobstore_name",
        )
    return f"HAL bucket '{bucket}' " + ("exists" if status == 200 else "is free")


def check_output_bucket(output, bucket, status):
    """`status`: head_bucket on the bucket of an s3:// output. Toil exports the HAL there at the very
    end of the run and does not create the bucket: it must exist and be reachable now."""
    if status == 404:
        raise PreflightError("cactus_output", f"bucket '{bucket}' of {output} does not exist (Toil would "
                             "fail to write the HAL there at the end of the run)",
                             f"create it (aws s3 mb s3://{bucket}) or give another s3:// URL or a local path")
    if status != 200:
        raise PreflightError("cactus_output", f"bucket '{bucket}' of {output} is not reachable with these "
                             f"credentials (S3 answered {status})",
                             "use a bucket of this AWS account, or give s3:PutObject and s3:ListBucket on it")
    return f"output bucket '{bucket}' exists"


# ---- Node types, spot bids, quotas ---------------------------------------------------------------


def parsed_node_types(node_types):
    """[(spec, [instance types], bid or None)] with the planner's parser (Toil's grammar)."""
    result = []
    for spec in node_types:
        types, bid = parse_node_type(spec)
        result.append((spec, types, bid))
    return result


def all_instance_types(parsed, leader_node_type):
    types = {t for _, kinds, _ in parsed for t in kinds}
    types.add(leader_node_type)
    return sorted(types)


def check_offered(parsed, leader_node_type, zone, offered):
    """`offered`: instance types EC2 offers in the zone (describe_instance_type_offerings)."""
    for spec, types, _ in parsed:
        missing = [t for t in types if t not in offered]
        if missing and len(missing) == len(types):
            raise PreflightError(
                "toil_node_types",
                f"{', '.join(missing)} (node type '{spec}') "
                f"{'is' if len(missing) == 1 else 'are'} not offered in zone {zone}",
                "pick instance types offered there (aws ec2 describe-instance-type-offerings "
                f"--location-type availability-zone --filters Name=location,Values={zone}) "
                "or another toil_zone",
            )
    if leader_node_type not in offered:
        raise PreflightError(
            "toil_leader_node_type",
            f"{leader_node_type} is not offered in zone {zone}",
            "pick a leader type offered there, or another toil_zone",
        )
    return [
        f"{t} (in node type '{spec}') is not offered in {zone}: only its alternatives can start"
        for spec, types, _ in parsed
        for t in types
        if t not in offered
    ]


def check_bids(parsed, spot_prices, zone):
    """`spot_prices`: {instance type: current USD/hour in the zone}. Returns warnings."""
    warnings = []
    for spec, types, bid in parsed:
        if bid is None:
            continue
        priced = {t: spot_prices[t] for t in types if spot_prices.get(t) is not None}
        unpriced = [t for t in types if t not in priced]
        if unpriced:
            warnings.append(
                f"no spot price for {', '.join(unpriced)} in {zone}: the bid {bid} of '{spec}' "
                "is unchecked for them"
            )
        if not priced:
            continue
        below = {t: p for t, p in priced.items() if bid < p}
        if len(below) == len(priced) and not unpriced:
            now = ", ".join(f"{t} ${format_usd(p)}" for t, p in sorted(below.items()))
            raise PreflightError(
                "toil_node_types",
                f"the spot bid ${format_usd(bid)}/hour of '{spec}' is below the "
                f"current spot price in {zone} ({now}): the autoscaler would never get a node",
                f"bid at least ${format_usd(max(below.values()))} (e.g. "
                f"{'/'.join(types)}:{_round_up_cents(max(below.values()) * SPOT_BID_MARGIN)}), "
                "or drop the ':bid' to run on demand",
            )
        for t, p in sorted(below.items()):
            warnings.append(
                f"the spot bid ${format_usd(bid)} of '{spec}' is below {t}'s price ${format_usd(p)} "
                f"in {zone}: only its alternatives can start"
            )
        for t, p in sorted(priced.items()):
            if t not in below and bid < p * SPOT_BID_MARGIN:
                warnings.append(
                    f"the spot bid ${format_usd(bid)} of '{spec}' is within 20% of {t}'s price "
                    f"${format_usd(p)} in {zone}: nodes may be reclaimed often"
                )
    return warnings


def format_usd(value):
    """A price without float noise or exponents: 0.6, 0.00001, 2.66."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _round_up_cents(value):
    return f"{math.ceil(value * 100) / 100:.2f}"


def is_standard_family(instance_type):
    """True for the families the 'Standard' vCPU quotas cover (A, C, D, H, I, M, R, T, Z)."""
    name = instance_type.lower()
    if name.startswith(NON_STANDARD_PREFIXES):
        return False
    return name[:1] in STANDARD_FAMILY_LETTERS


def is_gpu_family(instance_type):
    """True for the G and VT families (g5.xlarge, g4dn.12xlarge, vt1.3xlarge), which have their own quotas."""
    name = instance_type.lower()
    return re.match(r"(g|vt)[0-9]", name) is not None


def quota_kind(instance_type, spot):
    """The key of QUOTAS whose vCPUs an instance of this type draws on, or None (a family not checked)."""
    if is_standard_family(instance_type):
        return "spot" if spot else "on_demand"
    if is_gpu_family(instance_type):
        return "gpu_spot" if spot else "gpu_on_demand"
    return None


def vcpu_needs(parsed, max_nodes, leader_node_type, vcpus):
    """vCPUs the planned maximum can hold at once, per quota: spot and on-demand Standard, and spot
    and on-demand G and VT.

    A node type of several instance types counts its largest in each quota. The leader is on demand.
    Returns {'spot', 'on_demand', 'gpu_spot', 'gpu_on_demand', 'unchecked': [types of other families]}.
    """
    needs = {kind: 0 for kind in QUOTAS}
    needs["unchecked"] = []
    items = [(types, bid, count) for (_, types, bid), count in zip(parsed, max_nodes, strict=True)]
    items.append(([leader_node_type], None, 1))
    for types, bid, count in items:
        largest = {}
        for t in types:
            kind = quota_kind(t, bid is not None)
            if kind is None:
                if t not in needs["unchecked"]:
                    needs["unchecked"].append(t)
                continue
            largest[kind] = max(largest.get(kind, 0), vcpus.get(t, 0))
        for kind, size in largest.items():
            needs[kind] += size * (count or 0)
    return needs


def check_quota(kind, needed, quota, in_use, code):
    """Compare planned vCPUs with a quota. quota None: unreadable. Returns warnings; raises when short."""
    label = QUOTAS[kind][1]
    if not needed:
        return []
    if quota is None:
        return [
            f"could not read the {label} vCPU quota ({code}); the plan needs up to {needed} vCPUs: check "
            f"it (aws service-quotas get-service-quota --service-code ec2 --quota-code {code})"
        ]
    if needed > quota:
        raise PreflightError(
            "toil_max_nodes",
            f"the plan may run {needed} {label} vCPUs at once (workers at their "
            f"maximum plus the leader), above the account's quota of {int(quota)} ({code})",
            f"lower toil_max_nodes or pick smaller node types, or ask AWS for more: "
            f"aws service-quotas request-service-quota-increase --service-code ec2 "
            f"--quota-code {code} --desired-value {needed}",
        )
    if in_use and needed + in_use > quota:
        return [
            f"{in_use} {label} vCPUs already run in this region: with the plan's {needed} the quota of "
            f"{int(quota)} ({code}) would be exceeded, and the autoscaler would stall below its maximum"
        ]
    return []


# ---- The leader's disk ---------------------------------------------------------------------------


def check_leader_storage(genomes, leader_storage, output_kind_value):
    """Local genomes are copied to the leader before Toil imports them: they must fit its disk.

    `genomes`: the plan's genomes (kind, size_on_disk). The need is the planner's
    default_leader_storage (Toil's 50 GB plus the local genomes). Returns warnings.
    """
    local = [g for g in genomes if g.get("kind") == "local"]
    local_bytes = sum(g.get("size_on_disk") or 0 for g in local)
    needed = default_leader_storage(local_bytes)
    if leader_storage < needed:
        raise PreflightError(
            "toil_leader_storage",
            f"{leader_storage} GB cannot hold the {len(local)} local "
            f"genome(s) staged on the leader ({math.ceil(local_bytes / GB)} GB) besides "
            f"Toil's own 50 GB (needs {needed} GB)",
            f"raise toil_leader_storage to {needed} or more, or upload the genomes to S3 and "
            "put their s3:// URLs in the seqFile (Toil imports those without the leader's disk)",
        )
    if output_kind_value == "local" and local_bytes and leader_storage < needed + math.ceil(local_bytes / GB):
        return [
            f"cactus_output is a local path: the HAL is written on the leader before it is fetched, and "
            f"is often as large as the genomes; toil_leader_storage {leader_storage} GB leaves little room "
            "(an s3:// output avoids it)"
        ]
    return []


# ---- Governed accounts: subnet, addressing, security groups, instance profile, images ------------
# The rules of what launch-cluster 9.4.1 does with them are the planner's (cactus_governed: "Governed
# AWS accounts"); here the answers of AWS are judged. Toil's own behaviour that matters:
# - AWSProvisioner.__init__ looks up the zone's DEFAULT subnet (_get_default_subnet) even when
#   --vpcSubnet is given, and raises without one: launch-cluster and destroy-cluster both need it.
# - launchCluster connects to the leader directly (Node.effectiveIP: the public address, else the
#   private one; --use_private_ip is not passed to the AWS provisioner), so no bastion can carry it.

SUBNET_VARIABLE = "toil_vpc_subnet"
PRIVATE_VARIABLE = "toil_use_private_ip"
GROUPS_VARIABLE = "toil_extra_security_groups"
PROFILE_VARIABLE = "toil_instance_profile_arn"
AMI_VARIABLE = "toil_aws_ami"
# EC2 image architectures by Toil's instance-table names.
AMI_ARCHITECTURES = {"amd64": "x86_64", "arm64": "arm64"}


def check_default_subnet(zone, default_subnet_id, vpc_subnet):
    """Toil 9.4.1 cannot start (launch or destroy) in a zone without a default subnet."""
    if default_subnet_id:
        return None
    if not vpc_subnet:
        raise PreflightError(
            SUBNET_VARIABLE,
            f"zone {zone} has no default subnet, where Toil puts the leader when no subnet is given",
            "set toil_vpc_subnet to a subnet of the zone",
        )
    raise PreflightError(
        SUBNET_VARIABLE,
        f"zone {zone} has no default subnet, and Toil 9.4.1 looks one up even when --vpcSubnet is given "
        "(AWSProvisioner.__init__): launch-cluster and destroy-cluster would both fail",
        f"create one (aws ec2 create-default-subnet --availability-zone {zone}; it needs a default VPC: "
        "aws ec2 create-default-vpc), or ask your network team for one; no instance has to use it",
    )


def check_subnet(subnet_id, subnet, zone, use_private_ip):
    """`subnet`: describe_subnets' entry for toil_vpc_subnet, or None when AWS does not know it.

    Returns (report line, gives public addresses). The route to a private address is judged by
    private_route_warnings."""
    if subnet is None:
        raise PreflightError(
            SUBNET_VARIABLE,
            f"subnet {subnet_id} does not exist in this region",
            "give a subnet id from aws ec2 describe-subnets --filters Name=availability-zone,Values=" + zone,
        )
    placed = subnet.get("AvailabilityZone")
    if placed != zone:
        raise PreflightError(
            SUBNET_VARIABLE,
            f"subnet {subnet_id} is in zone {placed}, not in toil_zone {zone}",
            f"give a subnet of {zone}, or set toil_zone to {placed} (in inventory/toil_cluster.yml)",
        )
    if subnet.get("State", "available") != "available":
        raise PreflightError(
            SUBNET_VARIABLE, f"subnet {subnet_id} is {subnet.get('State')}", "wait for it, or pick another"
        )
    public = bool(subnet.get("MapPublicIpOnLaunch"))
    if not public and not use_private_ip:
        raise PreflightError(
            SUBNET_VARIABLE,
            f"subnet {subnet_id} gives instances no public address (MapPublicIpOnLaunch is off), and the run "
            "reaches the leader at its public address",
            "set toil_use_private_ip: true (and use_private_ip: true in inventory/toil_cluster.yml) when "
            "this controller reaches the VPC (VPN, Direct Connect, or a controller inside it), or pick a "
            "subnet that gives public addresses",
        )
    kind = "public" if public else "no public"
    return (
        f"subnet {subnet_id} ({subnet.get('CidrBlock')}, VPC {subnet.get('VpcId')}) in {zone} "
        f"gives {kind} addresses",
        public,
    )


def parse_routes(text):
    """/proc/net/route (Linux) -> [IPv4Network] of the routes other than the default one."""
    routes = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination = socket.inet_ntoa(struct.pack("<L", int(fields[1], 16)))
            mask = socket.inet_ntoa(struct.pack("<L", int(fields[7], 16)))
            network = ipaddress.IPv4Network(f"{destination}/{mask}", strict=False)
        except (ValueError, OSError, struct.error):
            continue
        if network.prefixlen:
            routes.append(network)
    return routes


def private_route_warnings(subnet_cidr, gives_public, use_private_ip, routes, proxy_jump=""):
    """Best effort: the leader's private address must be reachable from here, directly.

    `routes`: the controller's routes other than the default one (parse_routes), None when unknown.
    """
    warnings = []
    if use_private_ip and gives_public:
        warnings.append(
            "toil_use_private_ip is true but the subnet gives public addresses: Toil's launch-cluster still "
            "connects to the leader's public address (it ignores --use_private_ip on AWS); the later steps "
            "use the private one"
        )
    if gives_public or not subnet_cidr:
        return warnings
    bastion = (
        f" toil_ssh_proxy_jump ({proxy_jump}) serves the later steps, not the launch." if proxy_jump else ""
    )
    try:
        cidr = ipaddress.IPv4Network(subnet_cidr, strict=False)
    except ValueError:
        return warnings
    if routes is not None and any(cidr.subnet_of(route) for route in routes):
        return warnings
    warnings.append(
        f"the leader will have only a private address in {cidr}, and this controller has no route to it "
        "other than its default one (best effort: a controller inside the VPC may still reach it). Toil "
        "9.4.1's launch-cluster connects to the leader directly, so a bastion cannot carry the launch: run "
        "the playbook from a machine in the VPC, or over a VPN or Direct Connect that routes "
        f"{cidr}.{bastion}"
    )
    return warnings


def check_extra_security_groups(wanted, found, vpc_id, cluster_name):
    """`found`: {id: describe_security_groups entry} of the groups AWS knows; `vpc_id`: the leader's
    VPC (the subnet's, or the default VPC's). Returns a report line."""
    for group_id in wanted:
        group = found.get(group_id)
        if group is None:
            raise PreflightError(
                GROUPS_VARIABLE,
                f"security group {group_id} does not exist in this region",
                "give ids from aws ec2 describe-security-groups",
            )
        if vpc_id and group.get("VpcId") != vpc_id:
            raise PreflightError(
                GROUPS_VARIABLE,
                f"security group {group_id} is in VPC {group.get('VpcId')}, the leader's subnet in "
                f"VPC {vpc_id}",
                "give groups of the subnet's VPC (an instance takes groups of its own VPC only)",
            )
        if group.get("GroupName") == cluster_name:
            raise PreflightError(
                GROUPS_VARIABLE,
                f"security group {group_id} is named like the cluster ({cluster_name}), the name of the "
                "group Toil makes and looks the cluster up by",
                "give a group of another name",
            )
    return f"extra security groups {', '.join(wanted)} are in VPC {vpc_id}" if wanted else ""


def check_instance_profile_found(arn, profile, cluster_name):
    """`profile`: get_instance_profile's InstanceProfile, or None when IAM does not know it.

    Returns (report line, role ARNs)."""
    name = arn.rsplit("/", 1)[-1]
    if profile is None:
        raise PreflightError(
            PROFILE_VARIABLE,
            f"instance profile {name} does not exist in this account",
            "give the ARN of an existing profile (aws iam list-instance-profiles), or leave it empty to let "
            "Toil make its own role",
        )
    if profile.get("Arn") != arn:
        raise PreflightError(
            PROFILE_VARIABLE,
            f"{arn} is not the ARN of profile {name} in this account ({profile.get('Arn')})",
            f"use {profile.get('Arn')}",
        )
    roles = profile.get("Roles") or []
    if not roles:
        raise PreflightError(
            PROFILE_VARIABLE,
            f"instance profile {name} holds no role, so the instances would have no AWS credentials "
            "(the leader needs them for the job store)",
            f"add a role to it (aws iam add-role-to-instance-profile --instance-profile-name {name} "
            "--role-name <role>); README: Governed AWS accounts has a least-privilege policy",
        )
    check_instance_profile(arn, cluster_name, [r.get("RoleName", "") for r in roles])
    role_names = ", ".join(r.get("RoleName", "") for r in roles)
    return (
        f"instance profile {name} (role {role_names}) exists: Toil creates no IAM role, and teardown "
        "leaves it",
        [r.get("Arn") for r in roles],
    )


def check_pass_role(decisions):
    """`decisions`: simulate_principal_policy's EvaluationResults for iam:PassRole (None: unknown)."""
    if decisions is None:
        return []
    denied = [d.get("EvalResourceName") for d in decisions if d.get("EvalDecision") != "allowed"]
    if denied:
        raise PreflightError(
            PROFILE_VARIABLE,
            f"your credentials may not pass the role {', '.join(denied)} to instances (iam:PassRole), which "
            "launching with the profile needs",
            "ask for iam:PassRole on that role (README: Governed AWS accounts, the operator's policy)",
        )
    return []


def check_ami_found(ami, image, architectures):
    """`image`: describe_images' entry, or None; `architectures`: {instance type: 'amd64'|'arm64'}
    of the leader and the workers. Returns a report line."""
    if image is None:
        raise PreflightError(
            AMI_VARIABLE,
            f"image {ami} does not exist in this region (or this account may not use it)",
            "give an AMI of the zone's region (AMIs are per region: copy it with aws ec2 copy-image)",
        )
    if image.get("State", "available") != "available":
        raise PreflightError(AMI_VARIABLE, f"image {ami} is {image.get('State')}", "use an available image")
    arch = image.get("Architecture")
    wrong = sorted(t for t, a in architectures.items() if AMI_ARCHITECTURES.get(a) != arch)
    if arch and wrong:
        raise PreflightError(
            AMI_VARIABLE,
            f"image {ami} is {arch}, but {', '.join(wrong)} "
            f"{'is' if len(wrong) == 1 else 'are'} not (Toil starts every node from this one image)",
            "pick an image of the instances' architecture, or instance types of the image's",
        )
    return f"image {ami} ({image.get('Name') or 'no name'}, {arch}) is available"
