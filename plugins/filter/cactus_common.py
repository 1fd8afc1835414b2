"""The shared checks of every run (cactus_common), in the order a person should fix them: the first
problem found is the one message the run stops with.

Each check and its message live here once; roles/cactus_common/tasks/checks.yml passes the settings.
"""

import json

from ansible.module_utils.compat.version import LooseVersion
from ansible.module_utils.parsing.convert_bool import boolean

ANSIBLE_MIN = "2.19"
RENAMED = {
    "toil_prereqs_fail_on_quota": "toil_capacity_fail_on_quota",
    "toil_prereqs_lookup_prices": "cactus_plan_lookup_prices",
}
EXAMPLE_KEY_PAIRS = ("", "my-key-pair")


def _interval_ok(value):
    try:
        return 1 <= int(value) <= 3600
    except (TypeError, ValueError):
        return False


def _inventory_problem(error, key_pair_name):
    """The inventory could not ask AWS for the cluster: its cause and fix (never read as "no cluster
    yet", which would launch), with the key pair when it is still the example's."""
    problem = error.removeprefix("toil_cluster inventory: ")
    if key_pair_name in EXAMPLE_KEY_PAIRS:
        problem += (f". Also set toil_key_pair_name (now the example {json.dumps(key_pair_name)}) to your "
                    "EC2 key pair, in inventory/group_vars/all.yml.")
    return problem


def cactus_common_problem(ansible_version, **settings):
    """The first problem of the controller, the cluster look-up and the shared settings ('' when none).
    The settings are _problems' keyword arguments."""
    return next(_problems(ansible_version, **settings), "")


def _problems(ansible_version, *, host_run=False, inventory_error=None, key_pair_name="", set_names=(),
              sample_interval=300, cluster_name="", inventory_cluster_name=None, use_private_ip=False,
              inventory_use_private_ip=None):
    """Each problem's message, in order. set_names: the variable names the user set among the RENAMED
    old ones. inventory_*: what the toil_cluster inventory plugin found (None when it did not run: a
    host run, or another inventory)."""
    if LooseVersion(ansible_version) < LooseVersion(ANSIBLE_MIN):
        yield (f"ansible-core >= {ANSIBLE_MIN} is required (found {ansible_version}): run ./run.sh, which "
               "installs the pinned version.")
    if inventory_error is not None and not host_run:
        yield _inventory_problem(inventory_error, key_pair_name)
    if any(name in RENAMED for name in set_names):
        renamed = ", and ".join(f"{old} is now {new}" for old, new in RENAMED.items())
        yield f"{renamed} (the old names would be ignored). Fix: rename them where you set them."
    if not _interval_ok(sample_interval):
        yield (f"cactus_sample_interval is {sample_interval}: give the seconds between two samples of the "
               "run's nodes and jobs on the leader, from 1 to 3600 (default 300).")
    if host_run:
        return
    if inventory_cluster_name is not None and inventory_cluster_name != cluster_name:
        yield (f"toil_cluster_name is '{cluster_name}' but the inventory (inventory/toil_cluster.yml) finds "
               f"cluster '{inventory_cluster_name}'. Set the name once, in the inventory's cluster_name, and "
               "drop it from -e and group_vars.")
    if inventory_use_private_ip is not None:
        private = boolean(use_private_ip, strict=False)
        inventory_private = boolean(inventory_use_private_ip, strict=False)
        if private != inventory_private:
            address = "private" if inventory_private else "public"
            yield (f"toil_use_private_ip: it is {private} but the inventory (inventory/toil_cluster.yml) "
                   f"connects to the leader's {address} address. Fix: set use_private_ip once, in the "
                   "inventory file, and drop toil_use_private_ip from -e and group_vars.")


class FilterModule:
    def filters(self):
        return {"cactus_common_problem": cactus_common_problem}
