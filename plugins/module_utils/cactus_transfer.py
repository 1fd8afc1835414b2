# The rsync transfer's decisions, kept apart from its I/O (the cactus_transfer action plugin, the
# cactus_verify module): which files rsync wrote and proved, whether a sent file
# is still the one its SHA-256 was taken of, and whether the target already holds every file
# verified (then nothing is sent at all).

import os
import re

STATS = re.compile(r"^(Number of regular files transferred|Total transferred file size|Literal data)")
# --itemize-changes: 11 characters of change flags, a space, the name; a written file starts with
# < (sent), > (received), c (created locally) or h (hard link), then f.
WRITTEN = re.compile(r"^[<>ch]f\S{9} (.*)$")
ESCAPE = re.compile(rb"\\#([0-7]{3})")
MANIFEST = ".manifest.sha256"


def unescape(name):
    """rsync prints unprintable bytes of a name as \\#ooo (octal)."""
    raw = ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), name.encode("utf-8", "surrogateescape"))
    return raw.decode("utf-8", "surrogateescape")


def written(stdout):
    """The files rsync wrote (and checked against the sender's whole-file checksum), from its
    --itemize-changes lines."""
    return [unescape(m.group(1)) for m in map(WRITTEN.match, stdout.splitlines()) if m]


def stats(stdout):
    """rsync's --stats lines worth showing: files transferred, their size, the literal data sent."""
    return [line for line in stdout.splitlines() if STATS.match(line)]


def check_stamps(stage_dir, cache, names):
    """(names whose controller file kept the stamp its cached SHA-256 was taken at, names that changed).
    A name without a cache entry is in neither: the target hashes it."""
    kept, moved = [], []
    for name in names:
        path = os.path.realpath(os.path.join(stage_dir, name))
        entry = cache.get(path)
        try:
            st = os.stat(path)
        except OSError:
            moved.append(name)
            continue
        if entry is None:
            continue
        (kept if entry["stamp"] == [st.st_size, st.st_mtime_ns] else moved).append(name)
    return kept, moved


def expected_stats(files, stamp_of):
    """{path relative to the genomes dir: [size, mtime in whole seconds]} each file should have on the
    target (rsync --times keeps the mtime; its own quick check compares whole seconds too)."""
    out = {}
    for source, rel in files:
        size, mtime_ns = stamp_of[os.path.realpath(source)]
        out[rel] = [size, mtime_ns // 1_000_000_000]
    return out


def not_in_place(manifest, expected, look):
    """Why the target does not yet hold every file as verified (empty: nothing to send), from
    cactus_verify's look: each manifest line verified there before, each file with the size and mtime
    it was sent with (so unchanged since), the manifest and the seqFile as they should be. At most
    five reasons."""
    reasons = []
    verified = set(look.get("verified", []))
    for line in manifest.splitlines():
        rel = line.split("  ", 1)[1]
        if line not in verified:
            reasons.append(f"{rel}: not verified there")
        elif look.get("stats", {}).get(rel) != expected.get(rel):
            reasons.append(f"{rel}: size or mtime differ there")
        if len(reasons) == 5:
            return reasons
    if not look.get("manifest_same"):
        reasons.append("the manifest differs")
    if not look.get("seqfile_same"):
        reasons.append("the seqFile differs")
    return reasons[:5]
