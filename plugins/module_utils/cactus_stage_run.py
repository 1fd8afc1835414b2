# What the cactus_stage action runs (its manual: plugins/modules/cactus_stage.py), in the controller's own
# process: stage the plan's local genomes (module_utils/cactus_stage.py), fingerprint the inputs and compare
# them with the run record (module_utils/cactus_inputs.py).

import os

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_inputs import (
    changes, fingerprints, verdict)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_paths import check_staging_url
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_stage import stage

ARGUMENT_SPEC = dict(
    genomes=dict(type="list", elements="dict", required=True),
    leader_genomes_dir=dict(type="str", required=True),
    stage_dir=dict(type="path", required=True),
    cache=dict(type="path", required=True),
    s3_url=dict(type="str"),
    tree=dict(type="str"),
    seqfile_text=dict(type="str", default=""),
    record=dict(type="dict", default={}),
    state=dict(type="str", default="none"),
    jobstore=dict(type="str", default=""),
    name_variable=dict(type="str", default="toil_jobstore_name"),
    name_value=dict(type="str", default=""),
    output=dict(type="str", default=""),
    stop_on_change=dict(type="bool", default=True),
)


class StageRefused(Exception):
    """The run must not go on: `result` (with its msg) is the task's."""

    def __init__(self, result):
        super().__init__(result["msg"])
        self.result = result


def s3_layout(genomes, leader_genomes_dir, s3_url, tree, manifest_text):
    """Where each local genome goes in S3, and the seqFile that points there."""
    bucket, prefix = check_staging_url(s3_url)  # pre-flight checked it already
    digests = {}
    for line in manifest_text.splitlines():
        digest, rel = line.split("  ", 1)
        digests[rel] = digest
    base = leader_genomes_dir.rstrip("/") + "/"
    uploads, lines = [], [tree] if tree else []
    for genome in genomes:
        path = genome.get("resolved") or genome.get("path")
        if genome.get("kind") == "local":
            if os.path.isdir(genome["resolved"]):
                raise ValueError(
                    f"genome {genome['name']} is a directory, which Cactus reads only from a local path: "
                    "transfer it with cactus_transfer_mode=rsync, or join its files into one FASTA"
                )
            rel = genome["leader_path"][len(base):]
            key = f"{prefix}/{rel}" if prefix else rel
            uploads.append({"src": genome["resolved"], "bucket": bucket, "key": key, "sha256": digests[rel]})
            path = f"s3://{bucket}/{key}"
        lines.append(f"{'*' if genome.get('outgroup') else ''}{genome['name']}\t{path}")
    return uploads, "\n".join(lines) + "\n"


def run(params, check_mode=False):
    """Stage (check_mode: only say what would change), fingerprint and compare: (changed, result).
    Raises StageRefused when the genomes cannot be staged, or when the inputs changed since the run of
    this job store and params["stop_on_change"]."""
    p = params
    try:
        changed, result = stage(
            p["genomes"], p["leader_genomes_dir"], p["stage_dir"], p["cache"], dry_run=check_mode
        )
        if p["s3_url"]:
            result["uploads"], result["seqfile_text"] = s3_layout(
                p["genomes"], p["leader_genomes_dir"], p["s3_url"], p["tree"], result["manifest_text"]
            )
        result["inputs"] = fingerprints(p["genomes"], result["manifest_text"], p["seqfile_text"],
                                        p["leader_genomes_dir"])
    except (OSError, ValueError) as e:
        raise StageRefused({"msg": f"cactus_seqfile: cannot stage the local genomes: {e}"}) from None
    del result["manifest_text"]
    # Only a record of this job store describes what is on the leader (another is an earlier run's).
    record = p["record"] if p["record"].get("jobstore") == p["jobstore"] else {}
    result["changed_inputs"] = changes(record.get("inputs"), result["inputs"])
    stop, result["inputs_message"] = verdict(p["state"], result["changed_inputs"], p["jobstore"],
                                             p["name_variable"], p["name_value"], p["output"])
    if stop and p["stop_on_change"]:
        raise StageRefused({"msg": result["inputs_message"], **result})
    return changed, result
