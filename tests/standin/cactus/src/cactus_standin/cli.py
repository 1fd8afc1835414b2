"""The `cactus` command of the Cactus TEST STAND-IN.

cactus <jobStore> <seqFile> <outputHal> [Toil options] [--consCores N] [--binariesMode M] [--restart] ...

Options are parsed the way Cactus v3.2.1 parses them (Toil's workflow parser plus Cactus's own options),
and rejected where Cactus rejects them, with Cactus's messages. The workflow then runs on Toil's
single_machine batch system whatever cluster was asked for (the test bed has no cluster to scale),
except --batchSystem slurm: the test bed has a real Slurm, so each Toil job is a Slurm job there.
"""

import copy
import logging
import os
import shutil
import sys
import tempfile
import time
from argparse import ArgumentParser
from difflib import get_close_matches
from urllib.parse import urlparse

from cactus_standin import VERSION_STRING
from cactus_standin.seqfile import parse_seqfile, write_newick

try:
    from toil.common import Config, Toil
    from toil.job import Job
    from toil.lib.conversions import human2bytes
    from toil.statsAndLogging import set_logging_from_options
    from toil.version import baseVersion as toil_version
except ImportError:  # real Cactus also needs Toil installed beside it, not as a pip dependency
    sys.exit(f"{VERSION_STRING}: Toil is not importable; install toil-requirement.txt or use a Toil leader")

from cactus_standin.workflow import (  # noqa: E402 (after the Toil check)
    JOB_RESOURCES,
    align_all,
    fail_on_purpose,
)

logger = logging.getLogger("toil.cactus_standin")  # under "toil": Toil silences other loggers
NO_LIMIT = 2**20  # Cactus treats --maxCores at or above this as "not given"
# Batch systems the stand-in really runs on (stand-in behaviour): the test bed has a real Slurm.
REAL_BATCH_SYSTEMS = ("single_machine", "slurm")


def make_parser() -> ArgumentParser:
    """Cactus v3.2.1's parser (cactus_progressive.main): Toil's workflow parser plus Cactus's options.

    The options and their arities agree with the project's data of Cactus v3.2.1's options
    (plugins/module_utils/cactus_options.py; tests/unit/test_cactus_options.py compares them).
    """
    parser = Job.Runner.getDefaultArgumentParser()
    parser.description = (
        f"{VERSION_STRING}: a TEST STAND-IN for the Cactus aligner, not Cactus. It accepts "
        "Cactus's command line, runs a small real Toil workflow (single_machine, or Slurm) and writes a "
        "deterministic text file in place of the HAL."
    )
    parser.prog = "cactus"
    parser.add_argument("seqFile", help="Seq file")
    parser.add_argument("outputHal", type=str, help="Output HAL file (stand-in: a text summary)")
    # Toil already defines --version (its own version, which real Cactus prints); name the stand-in too.
    for action in parser._actions:
        if "--version" in action.option_strings:
            action.version = f"{VERSION_STRING}, toil {toil_version}"
    ignored = "(ignored by the stand-in)"
    parser.add_argument("--configFile", help="Cactus configuration file " + ignored)
    parser.add_argument("--root", help="Name of ancestral node to use as the root of the alignment")
    parser.add_argument("--latest", action="store_true", help=ignored)
    parser.add_argument("--containerImage", help=ignored)
    parser.add_argument(
        "--binariesMode",
        choices=["docker", "local", "singularity"],
        default=None,
        help="The way to run the Cactus binaries (stand-in: recorded only)",
    )
    parser.add_argument("--gpu", nargs="?", const="all", default=None, help=ignored)
    parser.add_argument("--lastzCores", type=int, default=None, help=ignored)
    parser.add_argument("--lastzMemory", type=human2bytes, default=None, help=ignored)
    parser.add_argument("--fastga", action="store_true", help=ignored)
    parser.add_argument("--consCores", type=int, default=None, help="Cores for each cactus_consolidated job")
    parser.add_argument("--consMemory", type=human2bytes, help=ignored)
    parser.add_argument("--intermediateResultsUrl", help=ignored)
    parser.add_argument("--skipPreprocessor", action="store_true", help=ignored)
    parser.add_argument("--maxOutgroups", type=int, help=ignored)
    parser.add_argument("--chromInfo", help=ignored)
    masks = ["red", "fastan", "lastz", "none", "default"]
    parser.add_argument("--maskMode", default="default", choices=masks, help=ignored)
    parser.add_argument("--remask", action="store_true", help=ignored)
    parser.add_argument("--branchScale", type=float, default=1.0, help=ignored)
    parser.add_argument("--hdf5Codec", choices=["deflate", "lz4", "zstd", "none"], default=None, help=ignored)
    return parser


def check_cores(options) -> None:
    """Cactus's --maxCores/--consCores juggling (cactus_progressive.main), same messages."""
    max_cores = options.maxCores if options.maxCores is not None and options.maxCores < NO_LIMIT else None
    if max_cores is not None and options.consCores is None:
        options.consCores = int(max_cores)
    if options.batchSystem.lower() in ("single_machine", "singlemachine"):
        if max_cores is not None and int(max_cores) <= 0:
            raise RuntimeError("Cactus requires --maxCores >= 1")
        if options.consCores is None:
            options.consCores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    elif not options.consCores:
        raise RuntimeError("--consCores required for non single_machine batch systems")
    if max_cores is not None and options.consCores > int(max_cores):
        raise RuntimeError("--consCores must be <= --maxCores")


def check_gpu(options) -> None:
    """v3.2.1's ConfigWrapper.initGPU: --fastga turns --gpu off; --latest with --gpu stops; off
    single_machine the count must be given; the count must be a number. Then recorded, like the binaries."""
    if options.gpu and options.fastga:
        logger.warning("Disabling --gpu because FastGA activated")
        options.gpu = None
    if not options.gpu:
        return
    if options.latest:
        raise RuntimeError("--latest cannot be used with --gpu")
    if options.gpu == "all" and options.batchSystem.lower() not in ("single_machine", "singlemachine"):
        raise RuntimeError("--gpu N required to set number of GPUs on non single_machine batch systems")
    if options.gpu != "all" and (not options.gpu.isdigit() or int(options.gpu) < 0):
        raise RuntimeError(
            f"Invalid value for blast gpu count, {options.gpu}. Please specify a numeric value with --gpu"
        )
    logger.info("stand-in: --gpu %s recorded only (KegAlign is not run)", options.gpu)


def override_toil_options(options) -> None:
    """cactus_override_toil_options: the same defaults Cactus forces on Toil."""
    if options.retryCount is None and options.batchSystem.lower() != "single_machine":
        options.retryCount = 5  # never fires with Toil 9, whose retryCount default is 1, not None
    if options.batchSystem.lower() in ("slurm", "lsf", "torque"):
        options.caching = False
    options.realTimeLogging = True


def resolve_binaries_mode(mode: str | None) -> str:
    """Cactus's default: $CACTUS_BINARIES_MODE, else local if cactus_consolidated is on PATH, else docker."""
    if mode:
        return mode
    return os.environ.get("CACTUS_BINARIES_MODE") or (
        "local" if shutil.which("cactus_consolidated") else "docker"
    )


def check_cluster_options(options) -> None:
    """Let Toil check what it would check before we drop the cluster options."""
    Config().setOptions(copy.deepcopy(options))  # Toil's own consistency checks (nodeStorageOverrides...)
    if options.provisioner != "aws" or not options.nodeTypes:
        return
    # Toil's check_valid_node_types asks EC2 metadata for the region; use its table without the network.
    from toil.lib.generatedEC2Lists import regionDict

    region = aws_region(options.jobStore)
    known = regionDict.get(region, [])
    for instance_types, _bid in options.nodeTypes:
        for name in sorted(instance_types):
            if name not in known:
                close = get_close_matches(name, known, 1)
                hint = f" Did you mean {close[0]}?" if close else ""
                raise RuntimeError(
                    f"Invalid instance type ({name}) specified for AWS in region: {region}.{hint}"
                )
    if not sum(options.maxNodes) > 0:
        raise RuntimeError("Not configured to create nodes of any type.")


def aws_region(job_store: str) -> str:
    zone = os.environ.get("TOIL_AWS_ZONE")
    if zone:
        return zone[:-1]
    if job_store.startswith("aws:"):
        return job_store.split(":")[1]
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-west-2"


def run_on_single_machine(parser: ArgumentParser, options) -> None:
    """No cluster to scale here: keep the job store, run every job on this machine - or, with
    --batchSystem slurm and no provisioner, as Slurm jobs (the test bed has a real Slurm)."""
    asked = f"--batchSystem {options.batchSystem}"
    if options.provisioner:
        asked += f" --provisioner {options.provisioner}"
    if options.batchSystem.lower() in REAL_BATCH_SYSTEMS and not options.provisioner:
        logger.info("stand-in: running every job on %s (job store %s)", options.batchSystem, options.jobStore)
        return
    else:
        logger.warning(
            "stand-in: no cluster in the test bed: running every job on single_machine instead of %s "
            "(job store %s kept)",
            asked,
            options.jobStore,
        )
    options.batchSystem = "single_machine"
    for name in ("provisioner", "nodeTypes", "minNodes", "maxNodes", "nodeStorageOverrides"):
        setattr(options, name, copy.deepcopy(parser.get_default(name)))


def make_url(path_or_url: str) -> str:
    """Cactus's makeURL: URLs with a scheme pass through, local paths become absolute file:// URLs."""
    if urlparse(path_or_url).scheme == "":
        return "file://" + os.path.abspath(path_or_url)
    return path_or_url


def import_genome(toil, path: str):
    if urlparse(path).scheme == "" and os.path.isdir(path):
        # Cactus concatenates a directory of FASTA files; sorted here so the result is repeatable.
        fd, joined = tempfile.mkstemp(prefix="cactus-standin-", suffix=".fa")
        with os.fdopen(fd, "wb") as out:
            for entry in sorted(os.listdir(path)):
                with open(os.path.join(path, entry), "rb") as part:
                    shutil.copyfileobj(part, out)
        try:
            return toil.import_file(make_url(joined), symlink=False)
        finally:
            os.unlink(joined)
    return toil.import_file(make_url(path))


def main(argv=None) -> None:
    parser = make_parser()
    options = parser.parse_args(argv)
    set_logging_from_options(options)
    options.binariesMode = resolve_binaries_mode(options.binariesMode)
    check_cores(options)
    check_gpu(options)
    override_toil_options(options)
    check_cluster_options(options)
    run_on_single_machine(parser, options)

    start = time.monotonic()
    logger.info("Cactus Command: %s", " ".join(sys.argv))
    logger.info("Cactus Commit: %s", VERSION_STRING)
    logger.info(
        "stand-in: --binariesMode %s recorded only; no binaries or containers are run", options.binariesMode
    )
    with Toil(options) as toil:
        if options.restart:
            # As Cactus: the seqFile is not read again; the job store holds the workflow.
            hal_id = toil.restart()
        else:
            # Parsed inside the Toil context, as Cactus does: a bad seqFile leaves the new job store behind.
            seq = parse_seqfile(options.seqFile, root_name=options.root)
            tree = write_newick(seq.tree)
            logger.info("Tree: %s", tree)
            genomes = []
            for name, path in seq.imported.items():  # leaves and ancestors with a genome line
                logger.info("Importing %s", make_url(path))
                reference = name in seq.outgroups or not seq.outgroups
                genomes.append((name, import_genome(toil, path), reference))
            root = options.root or seq.root_name
            hal_id = toil.start(Job.wrapJobFn(align_all, tree, root, genomes, **JOB_RESOURCES))
        fail_on_purpose(options.outputHal)  # stand-in only: CACTUS_STANDIN_FAIL
        toil.export_file(hal_id, make_url(options.outputHal))
        logger.info("stand-in: exported HAL to %s", options.outputHal)
    logger.info("Cactus has finished after %s seconds", round(time.monotonic() - start, 1))


if __name__ == "__main__":
    main()
