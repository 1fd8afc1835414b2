"""The transfer's rsync command line: to the leader's appliance (through the same `docker exec` the
toil_appliance connection uses), to a host over its ssh connection, or a plain local copy."""

import shlex

from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import (
    APPLIANCE_CONNECTIONS,
    APPLIANCE_CONTAINER,
    appliance_exec_argv,
)

# The staging directory's manifest is not sent: the target's check writes it (cactus_verify).
RSYNC_OPTIONS = ["--recursive", "--copy-links", "--times", "--partial", "--partial-dir=.rsync-partial",
                 "--itemize-changes", "--stats", "--exclude=/.manifest.sha256"]


def cactus_transfer_rsync_argv(stage_dir, genomes_dir, *, connection="", host="", user="", rsh="ssh",
                               options=(), container=APPLIANCE_CONTAINER, docker_command="docker",
                               container_user=""):
    """rsync's argv from the controller's staging directory to the target's genomes directory.

    On a Toil leader rsync runs inside the appliance (--rsync-path `docker exec -i toil_leader rsync`),
    as `toil rsync-cluster` does; a local connection is a plain copy; ssh goes as the host's user to
    its address.
    """
    rsync_path = "rsync"
    if connection in APPLIANCE_CONNECTIONS and container:
        exec_argv = appliance_exec_argv(container, docker_command, container_user)
        rsync_path = " ".join(shlex.quote(a) for a in exec_argv + ["rsync"])
    if connection == "local":
        destination = f"{genomes_dir}/"
    else:
        destination = f"{user + '@' if user else ''}{host}:{genomes_dir}/"
    return (["rsync", *RSYNC_OPTIONS, "--rsync-path", rsync_path, "-e", rsh, *options]
            + [f"{stage_dir}/", destination])


class FilterModule:
    def filters(self):
        return {"cactus_transfer_rsync_argv": cactus_transfer_rsync_argv}
