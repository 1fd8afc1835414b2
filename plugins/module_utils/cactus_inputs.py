# Fingerprints of a run's inputs, and what a change means for a run that was started.
#
# The run record (run.json) keeps the fingerprints of the inputs the alignment started with: the
# seqFile Cactus reads (tree included), each local genome's SHA-256 (the transfer's manifest, so
# nothing is read twice), and each URL with the size, ETag and Last-Modified the plan measured.
# A re-run compares them with the current inputs before anything is sent: a started run's inputs
# are never replaced under it, and a finished run's HAL is never passed off as the result of
# inputs it was not made from.

import hashlib
import re

# States of a run (plugins/filter/cactus_run.py) whose job store still reads the inputs.
RESTARTABLE = ("running", "interrupted", "failed")


def fingerprints(genomes, manifest_text, seqfile_text, leader_genomes_dir):
    """{'seqfile': sha256, 'genomes': {name: fingerprint}} of the plan's genomes.

    A local genome: the SHA-256 of its file, or for a directory one digest over its files' names
    and digests (from `manifest_text`, the transfer's `sha256sum` manifest). A URL: the URL and what
    the plan measured (size, etag, last_modified; None when unknown).
    """
    digests = {}
    for line in manifest_text.splitlines():
        digest, rel = line.split("  ", 1)
        digests[rel] = digest
    base = leader_genomes_dir.rstrip("/") + "/"
    found = {}
    for genome in genomes:
        if genome.get("kind") == "local":
            rel = genome["leader_path"][len(base):]
            if rel in digests:
                found[genome["name"]] = {"sha256": digests[rel]}
            else:  # a directory: its files, in name order
                inner = sorted((r[len(rel) + 1:], d) for r, d in digests.items() if r.startswith(rel + "/"))
                text = "".join(f"{d}  {r}\n" for r, d in inner)
                digest = hashlib.sha256(text.encode()).hexdigest()
                found[genome["name"]] = {"sha256": digest, "files": len(inner)}
        else:
            found[genome["name"]] = {"url": genome.get("resolved") or genome.get("path"),
                                     "size": genome.get("size_on_disk"), "etag": genome.get("etag"),
                                     "last_modified": genome.get("last_modified")}
    return {"seqfile": hashlib.sha256(seqfile_text.encode()).hexdigest(), "genomes": found}


def changes(recorded, current):
    """What differs between two fingerprints, one phrase per input (empty when nothing does, or
    when the record has no fingerprints: a run started before they were kept)."""
    if not recorded or not recorded.get("genomes"):
        return []
    found = []
    was, now = recorded["genomes"], current["genomes"]
    for name in sorted(set(was) | set(now)):
        if name not in now:
            found.append(f"genome {name} (no longer aligned)")
        elif name not in was:
            found.append(f"genome {name} (new)")
        else:
            why = _genome_change(was[name], now[name])
            if why:
                found.append(f"genome {name} ({why})")
    if recorded.get("seqfile") != current.get("seqfile"):
        found.append("the seqFile (its tree or genome lines)")
    return found


def _genome_change(was, now):
    if "sha256" in was or "sha256" in now:
        if was.get("sha256") != now.get("sha256"):
            return f"sha256 {_short(was.get('sha256'))} is now {_short(now.get('sha256'))}"
        return ""
    if was.get("url") != now.get("url"):
        return f"URL {was.get('url')} is now {now.get('url')}"
    for key in ("size", "etag", "last_modified"):
        # Compared where both runs know it (an offline plan knows none).
        if was.get(key) is not None and now.get(key) is not None and was[key] != now[key]:
            return f"{key.replace('_', '-')} {was[key]} is now {now[key]}"
    return ""


def _short(digest):
    return (digest or "none")[:12]


def next_name(name):
    """A name for a new job store or run: name-2, or one more than its trailing -N."""
    match = re.match(r"^(.*)-([0-9]+)$", name or "")
    if match:
        return f"{match.group(1)}-{int(match.group(2)) + 1}"
    return f"{name}-2"


def verdict(state, changed, jobstore, name_variable, name_value, output):
    """(stop, message) for a run in `state` whose inputs changed as `changed` says."""
    if not changed or state not in RESTARTABLE + ("finished",):
        return False, ""
    listed = "; ".join(changed)
    again = (f"align the current inputs in a new job store with -e {name_variable}={next_name(name_value)} "
             f"(job store {jobstore} is left as it is; delete it yourself with toil clean when it is no "
             "longer needed)")
    if state == "finished":
        return True, (f"The inputs changed since the alignment in job store {jobstore} finished: {listed}. "
                      f"Its HAL ({output}) is the alignment of the earlier inputs, not of the current ones. "
                      f"To {again}; or put the inputs back as they were.")
    go_on = "watch it with --tags status" if state == "running" else "continue it with --tags restart"
    return True, (f"The inputs changed since the alignment in job store {jobstore} started ({state}): "
                  f"{listed}. The copies it reads were left as they were. Either put the inputs back as they "
                  f"were and {go_on}, or {again}.")
