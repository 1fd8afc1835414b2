"""Filters that find why a Cactus run failed, from its logs and `toil status --failed`, and say what helps.

Read against how Toil 9.4.1 and Cactus v3.2.1 print failures:
- the console log (cactus's stdout and stderr) has Toil's log lines, `[time] [thread] [L] [logger] message`
  with L the level's first letter, and, when cactus dies, Python's traceback of the leader. A failed
  workflow ends in `toil.exceptions.FailedJobsException: The job store ... contains N failed jobs`,
  followed by each failed job's own log between `=========>` and `<=========`, tab-indented, where the
  worker's traceback holds the real cause (`Worker crashed with traceback:`).
- Cactus's --logFile gets the same log records without the prefix (Toil's file handler has no format),
  but not the leader's final traceback (that goes to stderr only).
- a root logger that nobody formatted prints `ERROR:name:message`.
- Cactus's own errors are mostly `RuntimeError: ...` (seqFile checks, `Command [...] exited N: stderr=...`).
"""

import re

# Toil's console prefix: [2026-12-05T23:40:53+0000] [MainThread] [E] [toil.worker] message
_TOIL_PREFIX = re.compile(r"^\[[^\]]*\] \[[^\]]*\] \[([A-Z])\] \[[^\]]*\] ?")
# Python's default logging format (ERROR:toil.leader:message), and argparse's (cactus: error: message).
_PLAIN_LEVEL = re.compile(r"^(ERROR|CRITICAL):[\w.]*:|^[\w.-]+: (error): ")
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Failure)\b:?")
_JOB_LOG_START = re.compile(r'^Log from job "(.*)" follows:$')
# Error lines that only say that something failed, not why; used when nothing better is there.
_GENERIC = re.compile(
    r"FailedJobsException|Exiting the worker because of a failed job|Worker crashed with traceback"
    r"|indicating failure\) from job|Job failed with exit value|failed jobs|is completely failed"
)

# Causes, tried in order on the error found.
# restart: whether `--tags restart` can help (it reruns the recorded command on the same job store).
_CAUSES = [
    ("options", False, re.compile(
        r"cactus: error:|unrecognized arguments|Cactus requires --maxCores|--consCores (must be|required)"
        r"|Invalid instance type|Not configured to create nodes|not supported from inside the Cactus Docker"
        r"|executable wasn't found|can't find the Cactus binaries"
        r"|more than the maximum of .* configured with")),
    ("jobstore_missing", False, re.compile(r"does not exist, so there is nothing to restart")),
    ("jobstore_exists", True, re.compile(r"already exists\. Use --restart")),
    ("input", False, re.compile(
        r"File not found: |Failed to parse newick tree|Duplicate name found|At least two valid leaf genomes"
        r"|No sequence (path )?specified|Error parsing tree|Genome specified with --root"
        r"|Could not find (local )?file|FileNotFoundError|InvalidImportExportUrlException"
        r"|The URL '.*' is invalid|NoSuchKey|NoSuchBucket|not FASTA|sanitizeFastaHeaders")),
    ("disk", True, re.compile(
        r"No space left on device|Errno 28\b|ENOSPC|Job used more disk than requested")),
    ("memory", True, re.compile(
        r"MemoryError|Cannot allocate memory|bad_alloc|Out of memory|oom-kill|signaled SIGKILL")),
]
# The batch system's exit reasons are warnings (Toil's "Exit reason: ..."), looked for in the whole log
# when the error found says nothing more specific.
_EXIT_REASONS = [
    ("memory", True, re.compile(r"^Exit reason: MEMLIMIT", re.M)),
    ("lost", True, re.compile(r"^Exit reason: (LOST|MISSING|PARTITION)", re.M)),
]

_ADVICE = {
    "options": "A restart cannot help: it reruns the recorded command. Fix the option (cactus_extra_options, "
    "or the setting the plan made it from), then start a new alignment in a new job store: {fresh}.",
    "jobstore_missing": "A restart cannot help: the job store is gone. Start a new alignment: --tags align.",
    "jobstore_exists": "The job store was already there: continue it with --tags restart, or delete it "
    "(toil clean) to start over.",
    "input": "A restart cannot help: the job store holds the same inputs. Fix the input, then start a new "
    "alignment in a new job store: {fresh}.",
    "disk": "Out of disk: make room (the leader's or the workers' disk, --workDir or TMPDIR), then continue "
    "with --tags restart.",
    "memory": "Out of memory: free memory or use machines with more, then continue with --tags restart.",
    "lost": "A worker was lost (a spot node reclaimed or gone): continue with --tags restart.",
    "unknown": "Read the log ({log}), fix the cause, then continue with --tags restart.",
}
_EXCERPT_LINES = 8


def _lines(text):
    """(level, message, job) per line: Toil's prefix and the tab of a job's log removed; level is
    E, C, ... when the line says it, else ''; job names the failed job whose log holds the line."""
    job, out = None, []
    for raw in (text or "").splitlines():
        line = raw[1:] if raw.startswith("\t") else raw
        level = ""
        prefix = _TOIL_PREFIX.match(line)
        if prefix:
            level, line = prefix.group(1), line[prefix.end():]
        plain = _PLAIN_LEVEL.match(line)
        if plain:
            level = (plain.group(1) or plain.group(2))[0].upper()
        started = _JOB_LOG_START.match(line)
        if started:
            job = started.group(1)
        elif line.startswith("<========="):
            job = None
        out.append((level, line.rstrip(), job))
    return out


def _errors(text):
    """Every error of a log, in order: {message, excerpt, job, generic}."""
    lines, found, i = _lines(text), [], 0
    while i < len(lines):
        level, line, job = lines[i]
        if line.startswith("Traceback (most recent call last):"):
            start, i = i, i + 1
            # Frames: '  File ...' and their indented source and ^^^ lines.
            while i < len(lines) and (lines[i][1].startswith(" ") or not lines[i][1]):
                i += 1
            if i < len(lines) and _EXCEPTION.match(lines[i][1]):
                end = i + 1
                # The message goes on until an empty line, a log line or a job's log.
                while end < len(lines) and lines[end][1] and not lines[end][0] and end - i < 4 \
                        and not _JOB_LOG_START.match(lines[end][1]) and not lines[end][1].startswith("="):
                    end += 1
                frames = [entry[1] for entry in lines[start:i]]
                excerpt = frames[:1] + (["  ..."] if len(frames) > 3 else []) + frames[-2:][len(frames) == 1:]
                excerpt += [entry[1] for entry in lines[i:end]]
                found.append(_error(lines[i][1], excerpt, lines[i][2]))
                i = end
            continue
        if level in ("E", "C") and line:
            found.append(_error(line, [line], job))
        i += 1
    return found


def _error(message, excerpt, job):
    excerpt = [line for line in excerpt if line.strip("^~ ")][-_EXCERPT_LINES:]
    return {"message": message, "excerpt": excerpt, "job": job, "generic": bool(_GENERIC.search(message))}


def cactus_last_error(text):
    """The error that says most of why a log's run failed: the last specific one (an exception, an
    error line), else the last generic one (`... failed jobs`); {} when the log has none."""
    errors = _errors(text)
    specific = [e for e in errors if not e["generic"]]
    return (specific or errors or [{}])[-1]


def cactus_failed_jobs(toil_status_lines):
    """`toil status --failed` output: {counts: the 'Of the N jobs considered...' line, failed: [jobs]}."""
    counts, failed, listing = "", [], False
    for line in toil_status_lines or []:
        if line.startswith("Failed jobs:"):
            listing = True
        elif line.startswith("Of the "):
            counts, listing = line, False
        elif listing and line.strip():
            failed.append(line.strip())
    return {"counts": counts, "failed": failed}


def cactus_failure(console_text, log_text, record, name_variable="toil_jobstore_name"):
    """Why a failed run failed and what helps: {cause, kind, restart, advice, console, log}.

    console and log are the last errors of the console log and of --logFile (cactus_last_error); cause
    is the better of the two (specific over generic, the console's on a tie), with its failed job.
    kind: options, input, jobstore_missing, jobstore_exists, disk, memory, lost or unknown; restart:
    whether --tags restart can help. record is the run record (exit code, log paths).
    """
    record = record or {}
    console, log = cactus_last_error(console_text), cactus_last_error(log_text)
    best = console if console and (not console["generic"] or not log or log["generic"]) else log
    cause = best.get("message", "")
    if best.get("job") and best["job"] not in cause:
        cause += f" (in job {best['job']})"
    kind, restart = "unknown", True
    error = "\n".join([cause, *best.get("excerpt", [])])
    whole = f"{console_text or ''}\n{log_text or ''}"
    for name, helps, pattern in _CAUSES + _EXIT_REASONS:
        if pattern.search(error if (name, helps, pattern) in _CAUSES else whole):
            kind, restart = name, helps
            break
    if kind == "unknown" and record.get("exit_code") in (137, -9):
        kind, restart, cause = "memory", True, cause or "cactus was killed (SIGKILL: out of memory?)"
    fresh = f"another {name_variable}, or delete this job store (toil clean {record.get('jobstore', '')})"
    advice = _ADVICE[kind].format(fresh=fresh, log=record.get("console_log") or record.get("log_file") or "")
    return {"cause": cause or "no error found in the logs", "kind": kind, "restart": restart,
            "advice": advice, "console": console, "log": log}  # fmt: skip


def cactus_failure_lines(failure, record):
    """What status shows of a failure's logs: each log's path and the excerpt of its last error; the
    --logFile's error only once when it is the console's too."""
    lines, console = [], failure.get("console") or {}
    logs = (("console log", "console_log", console), ("cactus log", "log_file", failure.get("log")))
    for name, key, error in logs:
        path = (record or {}).get(key)
        if not path:
            continue
        if not error:
            lines.append(f"{name}: {path} (no error in its last lines)")
        elif error is not console and error["message"] == console.get("message"):
            lines.append(f"{name}: {path} (the same error)")
        else:
            lines += [f"{name}: {path}", *error["excerpt"]]
    return lines


class FilterModule:
    def filters(self):
        return {
            "cactus_last_error": cactus_last_error,
            "cactus_failed_jobs": cactus_failed_jobs,
            "cactus_failure": cactus_failure,
            "cactus_failure_lines": cactus_failure_lines,
        }
