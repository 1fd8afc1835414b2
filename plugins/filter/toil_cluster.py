"""Filters for Toil's rules, from plugins/module_utils/toil_rules.py and toil_aws.py (their one home):
the state of a cluster from amazon.aws.ec2_instance_info results, the region of a zone, the job store's
bucket, locator and name (from a locator), and the cluster's IAM role.
"""

from ansible_collections.genomics.cactus.plugins.module_utils import toil_aws
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import (
    CactusError,
    jobstore_bucket,
    jobstore_locator,
    jobstore_name_of,
    toil_role_name,
    zone_to_region,
)

# States: absent (launch), healthy (reuse), stopped (leader stopped or stopping), headless (security
# group without instances), not_leader (earliest instance not tagged ToilNodeType=leader).


def _as_boto(instance):
    """An ec2_instance_info instance in the shape boto3 (and toil_aws's rules) use."""
    return {
        "InstanceId": instance.get("instance_id"),
        "LaunchTime": instance.get("launch_time"),
        "State": {"Name": (instance.get("state") or {}).get("name", "")},
        "Tags": [{"Key": k, "Value": v} for k, v in (instance.get("tags") or {}).items()],
        "SecurityGroups": [{"GroupName": g.get("group_name")} for g in instance.get("security_groups") or []],
        "_info": instance,
    }


def toil_cluster_state(instances, security_groups, cluster_name):
    """Return {state, leader, message} for one cluster, with Toil's leader rule (toil_aws.find_nodes).

    instances: ec2_instance_info's `instances` (already filtered by instance.group-name).
    security_groups: ec2_security_group_info's `security_groups` filtered by group-name.
    """
    try:
        leader, _workers = toil_aws.find_nodes([_as_boto(i) for i in instances], cluster_name)
        problem = None
    except CactusError as error:
        leader, problem = None, error
    if leader is None and problem is None:
        if security_groups:
            return {
                "state": "headless",
                "leader": None,
                "message": (
                    f"Security group '{cluster_name}' exists but the cluster has no instance: a launch "
                    "or destroy did not finish. Run playbooks/teardown.yml to clean it up (toil "
                    "destroy-cluster), then launch again; or pick another toil_cluster_name."
                ),
            }
        return {"state": "absent", "leader": None, "message": f"Cluster '{cluster_name}' does not exist yet."}
    if problem is not None:
        return {"state": "not_leader", "leader": None, "message": str(problem)}
    info = leader["_info"]
    return _leader_state(
        {
            "instance_id": info["instance_id"],
            "state": info["state"]["name"],
            "public_ip": info.get("public_ip_address"),
            "private_ip": info.get("private_ip_address"),
            "instance_type": info.get("instance_type"),
            "launch_time": str(info["launch_time"]),
        },
        cluster_name,
    )


def toil_leader_state(leader_vars, cluster_name):
    """The same {state, leader, message} from the leader the toil_cluster inventory found when the run
    started (its host variables): that inventory looked the cluster up with Toil's leader rule already,
    so the launch step need not ask AWS again."""
    return _leader_state(
        {
            "instance_id": leader_vars["toil_instance_id"],
            "state": leader_vars["toil_state"],
            "public_ip": leader_vars.get("toil_public_ip") or None,
            "private_ip": leader_vars.get("toil_private_ip") or None,
            "instance_type": leader_vars.get("toil_instance_type"),
            "launch_time": leader_vars.get("toil_launch_time", ""),
        },
        cluster_name,
    )


def _leader_state(summary, cluster_name):
    if summary["state"] in ("stopped", "stopping"):
        return {
            "state": "stopped",
            "leader": summary,
            "message": (
                f"The leader of cluster '{cluster_name}' ({summary['instance_id']}) is {summary['state']}. "
                f"Start it (aws ec2 start-instances --instance-ids {summary['instance_id']}) and run again, "
                "or destroy the cluster with playbooks/teardown.yml."
            ),
        }
    return {
        "state": "healthy",
        "leader": summary,
        "message": (
            f"Cluster '{cluster_name}' exists: reusing leader {summary['instance_id']} "
            f"({summary['public_ip'] or summary['private_ip']})."
        ),
    }


def toil_zone_region(zone):
    """The region of an availability zone; '' when it is not one (pre-flight reports that)."""
    try:
        return zone_to_region(zone)
    except CactusError:
        return ""


class FilterModule:
    def filters(self):
        return {
            "toil_cluster_state": toil_cluster_state,
            "toil_leader_state": toil_leader_state,
            "toil_zone_region": toil_zone_region,
            "toil_jobstore_bucket": jobstore_bucket,
            "toil_jobstore_locator": jobstore_locator,
            "toil_jobstore_name": jobstore_name_of,
            "toil_role_name": toil_role_name,
        }
