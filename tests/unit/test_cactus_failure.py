"""Why a run failed and what helps, read from real logs.

The files under data/failures are the console logs (cactus's stdout and stderr) and --logFile of real
Toil 9.4.1 runs of the Cactus stand-in (paths rewritten to a leader's): a job raising on a non-FASTA
input, a job out of disk (CACTUS_STANDIN_FAIL=ENOSPC), a genome missing at import, an unknown option.
The inline texts follow Toil's and Cactus v3.2.1's messages (toil/leader.py, toil/worker.py,
cactus/shared/common.py, cactus/progressive/seqFile.py).
"""

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "cactus_failure", HERE.parents[1] / "plugins" / "filter" / "cactus_failure.py"
)
failure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(failure)

LOG = "/opt/cactus/runs/e2e/c.log"
RECORD = {"exit_code": 1, "jobstore": "aws:us-west-2:e2e-jobstore", "console_log": LOG}


def data(name):
    return (HERE / "data" / "failures" / name).read_text()


def toil_line(level, logger, message):
    return f"[2026-12-05T23:40:53+0000] [MainThread] [{level}] [{logger}] {message}"


def test_a_failed_job_names_the_workers_exception_not_toils_summary():
    found = failure.cactus_failure(data("bad_fasta.console.log"), data("bad_fasta.log"), RECORD)
    assert found["cause"].startswith("RuntimeError: Input is not FASTA (sequence before the first '>'")
    assert "(in job 'summarise_genome' kind-summarise_genome/instance-46tuplny v3)" in found["cause"]
    assert found["kind"] == "input" and not found["restart"]
    assert "A restart cannot help" in found["advice"] and "another toil_jobstore_name" in found["advice"]
    assert "toil clean aws:us-west-2:e2e-jobstore" in found["advice"]
    # Both logs: the console's last error is inside the FailedJobsException's job log; --logFile has the
    # worker's log too (not the leader's final traceback).
    excerpt = found["console"]["excerpt"]
    assert excerpt[0] == "Traceback (most recent call last):"
    assert excerpt[-1].startswith("RuntimeError: Input")
    assert 'in fasta_summary' in excerpt[-3] and len(excerpt) <= 8
    assert found["log"]["message"] == found["console"]["message"]


def test_out_of_disk_in_a_job_is_a_restart():
    found = failure.cactus_failure(data("disk_full.console.log"), "", RECORD)
    assert found["cause"].startswith("OSError: [Errno 28] No space left on device")
    assert "'write_hal'" in found["cause"]
    assert found["kind"] == "disk" and found["restart"] and "--tags restart" in found["advice"]


def test_a_genome_missing_at_import_is_an_input_error_with_toils_whole_message():
    found = failure.cactus_failure(data("missing_input.console.log"), "", RECORD, "cactus_run_name")
    assert found["cause"].startswith('FileNotFoundError: Could not find local file "/opt/cactus/runs')
    assert found["console"]["excerpt"][-1].startswith("If this is not a local file")
    assert found["kind"] == "input" and "another cactus_run_name" in found["advice"]


def test_an_unknown_option_is_argparses_error_and_no_restart():
    found = failure.cactus_failure(data("bad_option.console.log"), "", dict(RECORD, exit_code=2))
    assert found["cause"] == "cactus: error: unrecognized arguments: --bogus"
    assert found["kind"] == "options" and not found["restart"] and "cactus_extra_options" in found["advice"]


def test_usage_text_mentioning_preemptible_is_no_lost_worker():
    assert failure.cactus_failure(data("bad_option.console.log"), "", RECORD)["kind"] != "lost"


CACTUS_CALL = """\
Traceback (most recent call last):
  File "/opt/cactus/venv/lib/python3.11/site-packages/toil/worker.py", line 591, in workerScript
    job._runner(
  File "/opt/cactus/venv/lib/python3.11/site-packages/cactus/shared/common.py", line 916, in cactus_call
    raise RuntimeError("{}Command {} exited {}: {}".format(sigill_msg, call, process.returncode, out))
RuntimeError: Command ['cactus_consolidated', '--params', 'config.xml'] signaled SIGKILL: stderr=
"""


@pytest.mark.parametrize(("text", "kind", "words"), [
    # Cactus's cactus_call, as a worker's log shows it, tab-indented inside the leader's console.
    ("\n".join("\t" + line for line in CACTUS_CALL.splitlines()), "memory", "signaled SIGKILL"),
    (CACTUS_CALL.replace("signaled SIGKILL", "exited 1"), "unknown", "exited 1"),
    # The seqFile, read by Cactus inside the Toil context (cactus/progressive/seqFile.py).
    ("Traceback (most recent call last):\n  File \"x\", line 1, in main\n    raise x\n"
     "RuntimeError: Duplicate name found: simHuman\n", "input", "Duplicate name found"),
    # A root logger nobody formatted.
    ("ERROR:toil.leader:Job failed with exit value 1\nERROR:toil.worker:No space left on device\n", "disk",
     "ERROR:toil.worker:No space left on device"),
    # Toil's console format, a critical line after a generic one.
    (toil_line("E", "toil.leader", "Job failed with exit value 1: 'x' kind-x/instance-1 v1") + "\n"
     + toil_line("C", "toil.jobStores.aws", "MemoryError while reading") + "\n", "memory", "MemoryError"),
    # Only generic lines, and the batch system saying the node went away.
    (toil_line("W", "toil.leader", "Job failed with exit value <UNAVAILABLE>: 'x' kind-x/instance-1 v1")
     + "\nExit reason: LOST\n" + toil_line("E", "toil.leader", "Finished toil run with 1 failed jobs."),
     "lost", "Finished toil run with 1 failed jobs."),
    (toil_line("W", "toil.leader", "Job failed with exit value 137: 'x' kind-x/instance-1 v1")
     + "\nExit reason: MEMLIMIT\n", "memory", ""),
    # Toil refusing a job store (toil/jobStores/abstractJobStore.py).
    ("Traceback (most recent call last):\n  File \"x\", line 1, in main\n"
     "toil.jobStores.abstractJobStore.JobStoreExistsException: The job store 'aws:us-west-2:x' already "
     "exists. "
     "Use --restart to resume the workflow, or remove the job store with 'toil clean' to start the workflow "
     "from scratch.\n", "jobstore_exists", "JobStoreExistsException"),
    (toil_line("E", "toil.lib.threading", "something odd") + "\n", "unknown", "something odd"),
])  # fmt: skip
def test_kinds_of_failure(text, kind, words):
    found = failure.cactus_failure(text, "", RECORD)
    assert found["kind"] == kind and words in found["cause"], found
    assert ("--tags restart" in found["advice"]) == found["restart"]
    if kind == "unknown":
        assert found["advice"] == f"Read the log ({LOG}), fix the cause, then continue with --tags restart."


def test_a_killed_cactus_with_no_error_is_memory():
    found = failure.cactus_failure("", "", dict(RECORD, exit_code=137))
    assert found["kind"] == "memory" and "SIGKILL" in found["cause"]


def test_no_log_at_all():
    found = failure.cactus_failure(None, None, {})
    assert found["cause"] == "no error found in the logs" and found["kind"] == "unknown"
    assert failure.cactus_last_error("all fine\n") == {}


def test_the_log_file_wins_when_the_console_says_only_that_jobs_failed():
    console = toil_line("I", "toil.leader", "Finished toil run with 1 failed jobs.") + "\n" + (
        "toil.exceptions.FailedJobsException: The job store 'x' contains 1 failed jobs")
    console = "Traceback (most recent call last):\n  File \"x\", line 1, in main\n" + console.split("\n")[1]
    log = "Worker crashed with traceback:\n" + CACTUS_CALL
    found = failure.cactus_failure(console, log, RECORD)
    assert found["console"]["generic"] and "signaled SIGKILL" in found["cause"]


def test_toil_status_failed():
    out = [
        "Failed jobs:",
        "'summarise_genome' kind-summarise_genome/instance-46tuplny v3",
        "Of the 3 jobs considered, there are 1 completely failed jobs, 1 jobs with children, 2 jobs ready to "
        "run, 0 zombie jobs, 0 jobs with services, 0 services, and 1 jobs with log files currently in "
        "FileJobStore(/x/js).",
    ]
    jobs = failure.cactus_failed_jobs(out)
    assert jobs == {"counts": out[2], "failed": [out[1]]}
    assert failure.cactus_failed_jobs(["Failed jobs:", out[2]])["failed"] == []
    assert failure.cactus_failed_jobs(None) == {"counts": "", "failed": []}


def test_the_lines_status_shows_name_each_log_once():
    record = dict(RECORD, log_file="/opt/cactus/runs/e2e/cactus.log")
    found = failure.cactus_failure(data("bad_fasta.console.log"), data("bad_fasta.log"), record)
    lines = failure.cactus_failure_lines(found, record)
    assert lines[0] == f"console log: {LOG}" and lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "cactus log: /opt/cactus/runs/e2e/cactus.log (the same error)"
    found = failure.cactus_failure(data("disk_full.console.log"), "", record)
    assert failure.cactus_failure_lines(found, record)[-1] == (
        "cactus log: /opt/cactus/runs/e2e/cactus.log (no error in its last lines)")
    assert failure.cactus_failure_lines(found, {}) == []
