# Where a run's files go: the output, the leader's run directory and genome paths, the staging
# URL, and the seqFile the leader reads. Pure functions.

from __future__ import annotations

import os
import re

from ansible_collections.genomics.cactus.plugins.module_utils.cactus_settings import VARS
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError


def output_kind(output):
    """'s3' for an s3://bucket/key URL, 'local' for a path; anything else is refused."""
    variable = VARS["output"]
    if not output:
        raise CactusError(variable, "no output", "give s3://bucket/name.hal or a local path for the HAL")
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", output)
    if not match:
        return "local"
    if match.group(1).lower() != "s3" or not re.match(r"^s3://[^/]+/.+[^/]$", output):
        raise CactusError(variable, f"'{output}' is not an s3://bucket/key URL or a local path",
                          "Toil exports the HAL to s3:// or to a file on the leader")
    if "?" in output or "#" in output:  # Toil reads the key from urlparse(...).path
        raise CactusError(variable, f"'{output}' holds '?' or '#', which Toil reads as the start of a query "
                          "or a fragment, not as part of the key", "use a key of letters, digits and . _ - /")
    return "s3"


def s3_location(url):
    """{bucket, key} of an s3://bucket/key URL (one output_kind accepts)."""
    bucket, key = url[len("s3://"):].split("/", 1)
    return {"bucket": bucket, "key": key}


def run_name(target_hosts, cluster_name):
    """The run's name: the cluster's on AWS; on an inventory host, the host pattern with each run of
    characters other than letters, digits, '_' and '-' made one '-' (it names directories)."""
    if target_hosts:
        return re.sub(r"[^A-Za-z0-9_-]+", "-", target_hosts)
    return cluster_name


# Characters a leader path may hold. Cactus v3.2.1 hands a local genome to Toil as "file://" +
# the path (cactus.shared.common.makeURL) and Toil reads it back with urlparse + unquote
# (FileJobStore._extract_path_from_url): "?" starts a query, "#" a fragment, "%41" becomes "A".
# A directory genome's files are joined by a shell command (catFiles: "cat <paths> > tmp"), where
# spaces, globs and quotes are read too. Letters, digits, ".", "_" and "-" are read literally by both.
SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]")
SAFE_PATH_RE = re.compile(r"[^A-Za-z0-9._/-]")


def safe_name(name):
    """`name` with every character Toil or a shell could misread replaced by "_" (extensions kept)."""
    safe = SAFE_NAME_RE.sub("_", name)
    return "_" + safe if safe in ("", ".", "..") else safe


def leader_genome_paths(seqfile, run_dir):
    """Where each local genome goes on the leader: <run_dir>/genomes/<name>/<basename>, both made
    safe (safe_name): the leader's seqFile names the copy, which Toil then reads literally."""
    paths, used = {}, set()
    for genome in seqfile.imported():
        if genome.kind != "local":
            continue
        folder = safe_name(genome.name)
        if folder in used:
            folder = f"{folder}-{genome.line}"
        used.add(folder)
        paths[genome.name] = f"{run_dir}/genomes/{folder}/{safe_name(os.path.basename(genome.resolved))}"
    return paths


def check_staging_url(url):
    """(bucket, prefix) of cactus_transfer_s3_url. Toil reads s3:// URLs with urlparse ('?' and '#'
    would cut the key); the rest of each key is a leader path below the genomes directory, already safe."""
    match = re.match(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/.*)?$", url or "")
    if not match:
        raise CactusError(VARS["staging_url"], f"{url!r} is not an s3://bucket[/prefix] URL",
                          "give e.g. s3://my-bucket/cactus-inputs (the bucket is created when missing)")
    prefix = (match.group(2) or "").strip("/")
    if SAFE_PATH_RE.search(prefix):
        raise CactusError(VARS["staging_url"], f"the prefix '{prefix}' holds characters Toil may misread in "
                          "an s3:// URL", "use letters, digits and . _ - /")
    return match.group(1), prefix


def check_leader_run_dir(run_dir, mode):
    """Every leader path starts with the run directory: it must be read literally too."""
    bad = sorted(set(SAFE_PATH_RE.findall(run_dir)))
    if bad:
        name = "cactus_run_name" if mode == "host" else VARS["jobstore_name"]
        raise CactusError(VARS["leader_run_dir"], f"the run directory '{run_dir}' holds {''.join(bad)!r}, "
                          "which Toil misreads in the file:// URLs Cactus makes of local paths",
                          f"use a cactus_leader_dir (and {name}) of letters, digits, '.', '_', '-' and '/'")
    return run_dir


def render_seqfile(seqfile, path_map):
    """The seqFile text with paths replaced from `path_map` (absolute leader paths, URLs kept)."""
    lines = [seqfile.tree] if seqfile.tree else []
    for genome in seqfile.imported():
        mark = "*" if genome.outgroup else ""
        lines.append(f"{mark}{genome.name}\t{path_map.get(genome.name, genome.resolved)}")
    return "\n".join(lines) + "\n"
