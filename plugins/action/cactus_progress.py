# Action plugin: look at a running alignment and print one progress line per look, until it ends.
# Runs on the controller; each look is one command on the target through its connection (on a Toil
# leader, inside the appliance), the worker nodes come from EC2 with the controller's credentials.
# Its manual: plugins/modules/cactus_progress.py.

import datetime
import json
import os
import shlex
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.genomics.cactus.plugins.filter.cactus_run import cactus_run_elapsed, cactus_run_state
from ansible_collections.genomics.cactus.plugins.module_utils import (
    cactus_progress,
    cactus_sampler,
    cactus_spend,
    toil_aws,
)

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec={
            "session": {"type": "str", "required": True},
            "record": {"type": "str", "required": True},
            "wait": {"type": "bool", "default": False},
            "timeout": {"type": "int", "default": 86400},
            "interval": {"type": "int", "default": 60},
            "first_delay": {"type": "int", "default": 5},
            "cluster": {"type": "str", "default": ""},
            "region": {"type": "str", "default": ""},
            "zone": {"type": "str", "default": ""},
            "on_demand_prices": {"type": "dict", "default": {}},
            "spot_prices": {"type": "dict", "default": {}},
            "lookup_prices": {"type": "bool", "default": True},
            "volume_price_gb_month": {"type": "float", "default": 0.0},
            "ceiling": {"type": "float"},
            "run_dir": {"type": "str", "default": ""},
            "spot_types": {"type": "list", "elements": "str", "default": []},
        })[1]  # fmt: skip
        self._prices = {"on-demand": dict(args["on_demand_prices"]), "spot": dict(args["spot_prices"])}
        self._looked_up, self._warned, self._ec2 = set(), False, None
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
        nodes, spent = self._cluster(args) if args["cluster"] else (None, None)
        line = cactus_progress.progress_line(
            state, cactus_run_elapsed(probe["record"], now) or "", probe["jobs"], nodes
        )
        if spent is not None:
            line += " | spent: " + cactus_spend.spend_text(spent)
            if cactus_spend.over_ceiling(spent, args["ceiling"]) and not self._warned:
                self._warned = True
                display.warning(f"the cluster costs ${spent['rate']:.2f}/hour now, above the plan's ceiling "
                                f"of ${args['ceiling']:.2f}/hour: check the node types and counts")
        return {"state": state, "record": probe["record"], "jobs": probe["jobs"], "nodes": nodes or {},
                "spend": spent or {}, "line": line}  # fmt: skip

    def _cluster(self, args):
        """Workers up by type, and the spend so far; (None, None) when EC2 does not answer."""
        try:
            import boto3
            import botocore.config

            if self._ec2 is None:  # one client for all the looks of a wait
                config = botocore.config.Config(retries={"max_attempts": 2}, connect_timeout=10,
                                                read_timeout=30)
                self._ec2 = boto3.client("ec2", region_name=args["region"] or None, config=config)
            ec2 = self._ec2
            instances = toil_aws.describe_cluster_instances(ec2, args["cluster"])
            ours = [i for i in instances if toil_aws.in_cluster(i, args["cluster"])]
            ids = [i["InstanceId"] for i in ours]
            volumes = []
            if ids:
                pages = ec2.get_paginator("describe_volumes").paginate(
                    Filters=[{"Name": "attachment.instance-id", "Values": ids}])
                volumes = [v for page in pages for v in page.get("Volumes", [])]
            self._look_up_prices(ec2, args, ours)
        except Exception as e:  # noqa: BLE001 - progress must not stop the wait; the reason goes to -v
            display.v(f"cactus_progress: nothing from EC2: {type(e).__name__}: {e}")
            return None, None
        nodes = cactus_progress.nodes_by_type(ours, args["cluster"], toil_aws.in_cluster)
        return nodes, self._spend(args, ours, volumes)

    def _look_up_prices(self, ec2, args, instances):
        """Prices not given: on demand from the Price List API (when allowed), spot from EC2's history."""
        want = {(cactus_spend.lifecycle(i), i.get("InstanceType")) for i in instances}
        missing = {w for w in want if w[1] not in self._prices[w[0]] and w not in self._looked_up}
        if not missing:
            return
        self._looked_up |= missing
        spot = sorted(t for life, t in missing if life == "spot")
        if spot and args["zone"]:
            self._prices["spot"].update(toil_aws.spot_prices(ec2, args["zone"], spot))
        on_demand = sorted(t for life, t in missing if life == "on-demand")
        if on_demand and args["lookup_prices"]:
            found = toil_aws.on_demand_prices(args["region"], on_demand)[0]
            self._prices["on-demand"].update(found)

    def _spend(self, args, instances, volumes):
        """Spend so far; instances seen before and gone now count to their last look (spend.json), and
        each look appends one point to the time series (spend.jsonl), both in the run directory."""
        now = datetime.datetime.now(datetime.UTC)
        known, last_seen = {}, {}
        state_file = os.path.join(args["run_dir"], "spend.json") if args["run_dir"] else ""
        if state_file and os.path.exists(state_file):
            with open(state_file) as f:
                for iid, seen in json.load(f).get("instances", {}).items():
                    known[iid] = {**seen["instance"], "State": {"Name": "gone"}}
                    last_seen[iid] = seen["last_seen"]
        for instance in instances:
            running = (instance.get("State") or {}).get("Name") in ("pending", "running")
            keep = {k: instance.get(k) for k in ("InstanceId", "InstanceType", "InstanceLifecycle",
                                                 "PrivateIpAddress")}
            keep["LaunchTime"] = cactus_spend._utc(instance["LaunchTime"]).isoformat()
            known[instance["InstanceId"]] = {**keep, "State": instance.get("State")}
            if running:
                last_seen[instance["InstanceId"]] = now.isoformat(timespec="seconds")
        samples_file = os.path.join(args["run_dir"], "samples.jsonl") if args["run_dir"] else ""
        if samples_file and os.path.exists(samples_file):  # the leader's sampler, brought home
            with open(samples_file) as f:
                seen = cactus_sampler.last_seen_by_address(cactus_sampler.read_samples(f.read()))
            cactus_spend.with_samples(known, last_seen, seen, args["spot_types"])
        spent = cactus_spend.spend(list(known.values()), volumes, self._prices, now, last_seen,
                                   args["volume_price_gb_month"] or None)  # fmt: skip
        if state_file:
            os.makedirs(args["run_dir"], exist_ok=True)
            saved = {iid: {"instance": {k: v for k, v in i.items() if k != "State"},
                           "last_seen": last_seen[iid]}
                     for iid, i in known.items()
                     if iid in last_seen and not iid.startswith("sampled:")}  # fmt: skip
            with open(state_file, "w") as f:
                json.dump({"instances": saved}, f, indent=1)
            point = {"at": spent["at"], "total": spent["total"], "rate": spent["rate"],
                     "nodes": cactus_progress.nodes_by_type(instances, args["cluster"], toil_aws.in_cluster)}
            with open(os.path.join(args["run_dir"], "spend.jsonl"), "a") as f:
                f.write(json.dumps(point) + "\n")
        return spent
