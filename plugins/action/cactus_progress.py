# Action plugin: look at a running alignment and print one progress line per look, until it ends.
# Runs on the controller; each look is one command on the target through its connection (on a Toil
# leader, inside the appliance), the worker nodes come from EC2 with the controller's credentials.
# Its manual: plugins/modules/cactus_progress.py.

import datetime
import shlex
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.genomics.cactus.plugins.filter.cactus_run import cactus_run_elapsed, cactus_run_state
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_progress, toil_aws

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec={
            "session": {"type": "str", "required": True},
            "record": {"type": "str", "required": True},
            "wait": {"type": "bool", "default": False},
            "timeout": {"type": "int", "default": 86400},
            "interval": {"type": "int", "default": 60},
            "first_delay": {"type": "int", "default": 5},
            "cluster": {"type": "str", "default": ""},
            "region": {"type": "str", "default": ""},
        })  # fmt: skip
        command = shlex.join(cactus_progress.probe_argv(args["session"], args["record"]))
        deadline = time.monotonic() + max(0, args["timeout"])
        delay, looks = float(max(1, args["first_delay"])), 0
        while True:
            looks += 1
            look = self._look(command, args)
            if not args["wait"] or look["state"] != "running" or time.monotonic() + delay > deadline:
                break
            display.display(look["line"])
            time.sleep(delay)
            delay = cactus_progress.next_delay(delay, max(1, args["interval"]))
        result.update(look, looks=looks, changed=False)
        result["timed_out"] = bool(args["wait"] and look["state"] == "running")
        return result

    def _look(self, command, args):
        done = self._low_level_execute_command(command, sudoable=False)
        if done.get("rc") != 0:
            why = done.get("stderr") or done.get("stdout")
            raise AnsibleActionFail(f"could not read the run's state: {why}")
        probe = cactus_progress.parse_probe(done.get("stdout", ""))
        state = cactus_run_state(probe["record"], probe["alive"])
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        nodes = self._nodes(args) if args["cluster"] else None
        line = cactus_progress.progress_line(
            state, cactus_run_elapsed(probe["record"], now) or "", probe["jobs"], nodes
        )
        return {"state": state, "record": probe["record"], "jobs": probe["jobs"], "nodes": nodes or {},
                "line": line}  # fmt: skip

    def _nodes(self, args):
        """Workers up by type; None (said in the line as unknown) when EC2 does not answer."""
        try:
            import boto3
            import botocore.config

            ec2 = boto3.client("ec2", region_name=args["region"] or None,
                               config=botocore.config.Config(retries={"max_attempts": 2}, connect_timeout=10,
                                                             read_timeout=30))  # fmt: skip
            instances = toil_aws.describe_cluster_instances(ec2, args["cluster"])
        except Exception as e:  # noqa: BLE001 - progress must not stop the wait; the reason goes to -v
            display.v(f"cactus_progress: no node count from EC2: {type(e).__name__}")
            return None
        return cactus_progress.nodes_by_type(instances, args["cluster"], toil_aws.in_cluster)
