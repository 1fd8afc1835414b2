"""Filters for the state of a Toil cluster, from amazon.aws.ec2_instance_info results.

Toil's own rules (toil/provisioners/aws/awsProvisioner.py): the cluster is the instances in the
security group named like it; the earliest launched is the leader and must be tagged
ToilNodeType=leader.
"""

# States: absent (launch), healthy (reuse), stopped (leader stopped or stopping), headless (security
# group without instances), not_leader (earliest instance not tagged ToilNodeType=leader).


def toil_cluster_state(instances, security_groups, cluster_name):
    """Return {state, leader, message} for one cluster.

    instances: ec2_instance_info's `instances` (already filtered by instance.group-name).
    security_groups: ec2_security_group_info's `security_groups` filtered by group-name.
    """
    live = [i for i in instances if i["state"]["name"] not in ("terminated", "shutting-down")]
    if not live:
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

    leader = sorted(live, key=lambda i: i["launch_time"])[0]
    summary = {
        "instance_id": leader["instance_id"],
        "state": leader["state"]["name"],
        "public_ip": leader.get("public_ip_address"),
        "private_ip": leader.get("private_ip_address"),
        "instance_type": leader.get("instance_type"),
        "launch_time": str(leader["launch_time"]),
    }
    if leader.get("tags", {}).get("ToilNodeType") != "leader":
        return {
            "state": "not_leader",
            "leader": summary,
            "message": (
                f"The earliest instance of cluster '{cluster_name}' ({summary['instance_id']}) is not tagged "
                "ToilNodeType=leader, so Toil cannot use this cluster. Check the instances in security group "
                f"'{cluster_name}', or pick another toil_cluster_name."
            ),
        }
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


class FilterModule:
    def filters(self):
        return {"toil_cluster_state": toil_cluster_state}
