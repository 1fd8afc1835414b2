"""`cactus-prepare-toil` of the Cactus TEST STAND-IN.

cactus-prepare-toil <jobStore> <seqFile> --outHal <hal> [Toil options] [--preprocessCores N ...] [--restart]

The option surface and the rules are Cactus v3.2.1's (cactus_prepare.main with toil_mode=True): Toil's
workflow parser plus cactus-prepare's options; --outHal required; an AWS job store needs an s3:// --outHal;
--gpu without a number stops off single_machine; --gpuType only with --wdl (which Toil mode lacks);
memory and disk sizes below 10,000,000 bytes stop ("Suspiciously small"); --cactusOptions split on single
spaces and given to every step, with " --binariesMode local" added unless it names --binariesMode: the
stand-in parses that string with each step's parser, so an option one step refuses stops the run as the
real step would.

The workflow is a small real Toil workflow with one job per step, as v3.2.1 makes it: preprocess per
leaf genome, blast then align per internal node of the tree, one halAppend. Each job's request is the
one v3.2.1 gives it (blast asks for --preprocessDisk, halAppend for 1 core and --alignMemory); the
stand-in RECORDS those requests in its output (lines "step ...") and in the log, and runs each job
within the machine's limits (the test bed has no Kubernetes and a 2-core leader). The HAL is written
where v3.2.1 writes it: to S3 in the job store's region (boto3) for an s3:// --outHal, else to the path.
"""

import hashlib
import logging
import os
import sys
import time
from argparse import ArgumentParser
from urllib.parse import urlparse

from toil.common import Toil
from toil.job import Job
from toil.lib.conversions import bytes2human, human2bytes
from toil.statsAndLogging import set_logging_from_options

from cactus_standin import VERSION_STRING
from cactus_standin.cli import import_genome, resolve_binaries_mode
from cactus_standin.seqfile import parse_seqfile, write_newick
from cactus_standin.workflow import JOB_RESOURCES, fail_on_purpose, fasta_summary, hal_text

logger = logging.getLogger("toil.cactus_standin")
STEPS = ("preprocess", "blast", "align", "halAppend")
# The Cactus options (beside Toil's) of the commands the steps run with --cactusOptions (v3.2.1's
# parsers of cactus-preprocess, cactus-blast, cactus-align and cactus-hal2fasta).
STEP_OPTIONS = {
    "cactus-preprocess": {
        "--binariesMode": 1,
        "--brnnCores": 1,
        "--configFile": 1,
        "--containerImage": 1,
        "--gpu": "?",
        "--ignore": "*",
        "--inPaths": "*",
        "--inputNames": "*",
        "--lastzCores": 1,
        "--lastzMemory": 1,
        "--latest": 0,
        "--maskAction": 1,
        "--maskFile": 1,
        "--maskMode": 1,
        "--minLength": 1,
        "--outPaths": "*",
        "--pangenome": 0,
    },
    "cactus-blast": {
        "--binariesMode": 1,
        "--branchScale": 1,
        "--chromInfo": 1,
        "--configFile": 1,
        "--containerImage": 1,
        "--fastga": 0,
        "--gpu": "?",
        "--includeRoot": 0,
        "--lastzCores": 1,
        "--lastzMemory": 1,
        "--latest": 0,
        "--pathOverrideNames": "*",
        "--pathOverrides": "*",
        "--remask": 0,
        "--root": 1,
    },
    "cactus-align": {
        "--alignCores": 1,
        "--alignCoresOverrides": "*",
        "--alignOptions": 1,
        "--barMaskFilter": 1,
        "--batch": 0,
        "--binariesMode": 1,
        "--branchScale": 1,
        "--chromInfo": 1,
        "--collapse": "?",
        "--configFile": 1,
        "--configOverrides": "*",
        "--consCores": 1,
        "--consMemory": 1,
        "--containerImage": 1,
        "--hdf5Codec": 1,
        "--includeRoot": 0,
        "--latest": 0,
        "--maxLen": 1,
        "--outGFA": 0,
        "--outVG": 0,
        "--pafMaskFilter": 1,
        "--pangenome": 0,
        "--pathOverrideNames": "*",
        "--pathOverrides": "*",
        "--reference": "*",
        "--root": 1,
        "--scoresFile": 1,
        "--scoresFromChromfile": 0,
        "--singleCopySpecies": "*",
    },
    "cactus-hal2fasta": {"--configFile": 1, "--latest": 0, "--containerImage": 1, "--binariesMode": 1},
}


def human2bytes_n(text):
    """cactus_prepare.human2bytesN: sizes below 10,000,000 bytes are refused (a forgotten 'Gi')."""
    size = human2bytes(text)
    if size < 10000000:
        raise RuntimeError(
            f"Suspiciously small disk or memory specification detected: {size}.  Did you "
            'forget to add a "Gi" for gigabytes?'
        )
    return size


def make_parser() -> ArgumentParser:
    """cactus_prepare.main(toil_mode=True)'s parser: Toil's workflow parser plus cactus-prepare's options."""
    parser = Job.Runner.getDefaultArgumentParser()
    parser.prog = "cactus-prepare-toil"
    parser.description = f"{VERSION_STRING}: cactus-prepare-toil, a TEST STAND-IN (not Cactus)"
    ignored = "(ignored by the stand-in)"
    parser.add_argument("--latest", action="store_true", help=ignored)
    parser.add_argument("--containerImage", default=None, help=ignored)
    parser.add_argument(
        "--binariesMode",
        choices=["docker", "local", "singularity"],
        default=None,
        help="The way to run the Cactus binaries at top level (stand-in: recorded only)",
    )
    parser.add_argument("seqFile", help="Seq file")
    parser.add_argument("--outDir", help=ignored)
    parser.add_argument("--outSeqFile", help=ignored)
    parser.add_argument("--outHal", required=True, help="Output HAL file (stand-in: a text summary)")
    parser.add_argument("--chromInfo", help=ignored)
    parser.add_argument("--configFile", default=None, help=ignored)
    parser.add_argument("--preprocessBatchSize", type=int, default=32, help=ignored)
    parser.add_argument("--halAppendBatchSize", type=int, default=50, help=ignored)
    parser.add_argument("--halOptions", type=str, default="--hdf5InMemory", help=ignored)
    parser.add_argument("--cactusOptions", type=str, default="", help="options for every cactus command")
    parser.add_argument("--preprocessOnly", action="store_true", help=ignored)
    parser.add_argument(
        "--maskMode", default="default", choices=["red", "fastan", "lastz", "none", "default"], help=ignored
    )
    parser.add_argument("--remask", action="store_true", help=ignored)
    parser.add_argument("--branchScale", type=float, default=None, help=ignored)
    parser.add_argument("--dockerImage", type=str, help=ignored)
    parser.add_argument("--gpu", nargs="?", const="all", default=None, help="GPUs for lastz (recorded)")
    parser.add_argument("--lastzCores", type=int, help=ignored)
    parser.add_argument("--fastga", action="store_true", help=ignored)
    parser.add_argument("--gpuType", default="nvidia-tesla-v100", help=ignored)
    parser.add_argument("--nvidiaDriver", default="470.82.01", help=ignored)
    parser.add_argument("--gpuZone", default="us-central1-a", help=ignored)
    parser.add_argument("--zone", default="us-west2-a", help=ignored)
    parser.add_argument("--hdf5Codec", choices=["deflate", "lz4", "zstd", "none"], default=None, help=ignored)
    for step in ("preprocess", "blast", "align"):
        parser.add_argument(f"--{step}Cores", type=int, help=f"cores of each {step} job")
    for step in ("preprocess", "blast", "align"):
        parser.add_argument(f"--{step}Memory", type=human2bytes_n, help=f"memory of each {step} job")
    for step in ("preprocess", "blast", "align", "halAppend"):
        parser.add_argument(f"--{step}Disk", type=human2bytes_n, help=f"disk of each {step} job")
    for step in STEPS:
        parser.add_argument(f"--{step}Preemptible", type=int, default=1, help="WDL only " + ignored)
    for step, default in zip(STEPS, (1, 1, 0, 0), strict=True):
        parser.add_argument(f"--{step}Retries", type=int, default=default, help="WDL only " + ignored)
    return parser


def step_parser(command):
    """The parser of one step's command, for its --cactusOptions tokens: Toil's plus its own options."""
    parser = Job.Runner.getDefaultArgumentParser()
    parser.prog = command
    parser.exit_on_error = False
    nargs = {0: 0, 1: None}
    for option, count in STEP_OPTIONS[command].items():
        if count == 0:
            parser.add_argument(option, action="store_true")
        else:
            parser.add_argument(option, nargs=nargs.get(count, count))
    return parser


def check_rules(options) -> None:
    """cactus_prepare.main's checks in Toil mode, with its messages."""
    if "--binariesMode" not in options.cactusOptions:
        options.cactusOptions += " --binariesMode local"
    if options.jobStore.startswith("aws") and not options.outHal.startswith("s3://"):
        raise RuntimeError("--outHal must be s3:// address when using s3 job store")
    if options.gpu == "all":
        if options.batchSystem.lower() in ("single_machine", "singlemachine"):
            raise RuntimeError("Unable to automatically determine number of GPUs: Please set with --gpu N")
        raise RuntimeError("--gpu N required in order to use GPUs on non single_machine batch systems")
    if options.gpuType != "nvidia-tesla-v100":
        raise RuntimeError("--gpuType can only be used with --wdl ")
    if options.preprocessBatchSize != 1:
        options.preprocessBatchSize = 1
    assert not options.preprocessOnly
    tokens = options.cactusOptions.strip().split(" ")
    for command in STEP_OPTIONS:
        # Every step gets the same tokens after its own arguments; an empty token is a positional.
        parser = step_parser(command)
        parsed, unknown = parser.parse_known_args(["jobstore", *tokens])
        if unknown:
            raise RuntimeError(
                f"{command}: error: unrecognized arguments: {' '.join(unknown)} (given in --cactusOptions)"
            )


def requests(options):
    """What each job of a step asks Toil for, as v3.2.1 builds its jobs (None: Toil's default)."""
    return {
        "preprocess": (options.preprocessCores, options.preprocessMemory, options.preprocessDisk),
        "blast": (options.blastCores, options.blastMemory, options.preprocessDisk),  # v3.2.1: preprocessDisk
        "align": (options.alignCores, options.alignMemory, options.alignDisk),
        "halAppend": (1, options.alignMemory, options.halAppendDisk),
    }


def step_line(step, name, request):
    cores, memory, disk = (("default" if v is None else str(v)) for v in request)
    return f"step\t{step}\t{name}\tcores={cores}\tmemory={memory}\tdisk={disk}"


def run_step(job, step, name, request, file_id=None):
    """One step's job: log the request v3.2.1 would make, then do the stand-in's work within this machine."""
    line = step_line(step, name, request)
    job.log(f"stand-in: {line} (running with {int(job.cores)} cores, {bytes2human(job.memory)} memory)")
    pace = float(os.environ.get("CACTUS_STANDIN_PACE", "0") or 0)
    if pace > 0:
        time.sleep(pace)  # lets tests kill a run part-way through
    summary = None
    if file_id is not None:
        summary = dict(fasta_summary(job.fileStore.readGlobalFile(file_id)), name=name)
        job.log(f"stand-in: preprocessed genome {name}")
    return {"line": line, "summary": summary}


# The jobs, named as v3.2.1's job functions (toil status lists them by these names).
def toil_call_preprocess(job, name, request, file_id):
    return run_step(job, "preprocess", name, request, file_id)


def toil_call_blast(job, name, request):
    return run_step(job, "blast", name, request)


def toil_call_align(job, name, request):
    return run_step(job, "align", name, request)


def schedule(job, tree_newick, root_name, flags, genomes, internal, reqs, out_hal, region, gpu):
    """Root job, as v3.2.1 lays the workflow out at once: preprocess per leaf; after them a round of
    blast then align per internal node; after that one halAppend."""
    pre = [
        job.addChildJobFn(toil_call_preprocess, name, reqs["preprocess"], file_id, **JOB_RESOURCES).rv()
        for name, file_id in genomes
    ]
    round_job = job.addFollowOn(Job(**JOB_RESOURCES))
    done = []
    for name in internal:
        label = name + (f" gpu={gpu}" if gpu else "")
        blast = round_job.addChildJobFn(toil_call_blast, label, reqs["blast"], **JOB_RESOURCES)
        align = blast.addFollowOnJobFn(toil_call_align, name, reqs["align"], **JOB_RESOURCES)
        done += [blast.rv(), align.rv()]
    hal = round_job.addFollowOnJobFn(
        toil_call_hal_append_subtrees, tree_newick, root_name, flags, pre, done, reqs, out_hal, region,
        **JOB_RESOURCES,
    )
    return hal.rv()


def toil_call_hal_append_subtrees(job, tree_newick, root_name, flags, pre, aligned, reqs, out_hal, region):
    """halAppendSubtrees: the stand-in HAL (the steps' requests recorded), written where v3.2.1 writes it."""
    record = run_step(job, "halAppend", root_name, reqs["halAppend"])
    lines = sorted(r["line"] for r in [*pre, *aligned, record])
    text = hal_text(tree_newick, root_name, flags, [r["summary"] for r in pre]) + "\n".join(lines) + "\n"
    path = os.path.join(job.fileStore.getLocalTempDir(), "standin.hal")
    fail_on_purpose(path)
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)
    if out_hal.startswith("s3://"):
        write_s3(path, out_hal, region)
    else:
        with open(out_hal, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
    job.log(f"stand-in: wrote HAL to {out_hal}")
    return hashlib.sha256(text.encode()).hexdigest()


def write_s3(path, url, region):
    """As cactus.shared.common.write_s3: boto3 upload in the job store's region."""
    import boto3

    parsed = urlparse(url)
    boto3.client("s3", region_name=region).upload_file(path, parsed.netloc, parsed.path.lstrip("/"))


def internal_names(tree):
    """Internal nodes, children before parents, unnamed ones named as Cactus does (Anc0, Anc1, ...)."""
    count = 0
    for node in tree.breadth_first():
        if node.children and not node.name:
            node.name = f"Anc{count}"
            count += 1
    return [node.name for node in tree.postorder() if node.children]


def main(argv=None) -> None:
    parser = make_parser()
    options = parser.parse_args(argv)
    set_logging_from_options(options)
    options.binariesMode = resolve_binaries_mode(options.binariesMode)
    check_rules(options)
    asked = options.batchSystem
    if asked not in ("single_machine", "singleMachine"):
        logger.warning(
            "stand-in: no %s in the test bed: every job runs on single_machine (job store %s)",
            asked,
            options.jobStore,
        )
    options.batchSystem = "single_machine"
    region = options.jobStore.split(":")[1] if options.jobStore.startswith("aws:") else None
    logger.info("Cactus Command: %s", " ".join(sys.argv))
    logger.info("stand-in: requests per step: %s", requests(options))
    start = time.monotonic()
    with Toil(options) as toil:
        if options.restart:
            toil.restart()
        else:
            seq = parse_seqfile(options.seqFile)
            internal = internal_names(seq.tree)
            tree = write_newick(seq.tree)
            leaves = [n.name for n in seq.tree.postorder() if not n.children]
            genomes = [(name, import_genome(toil, seq.paths[name])) for name in leaves]
            flags = {name: name in seq.outgroups or not seq.outgroups for name in leaves}
            logger.info("Tree: %s", tree)
            root = Job.wrapJobFn(
                schedule,
                tree,
                seq.root_name,
                flags,
                genomes,
                internal,
                requests(options),
                options.outHal,
                region,
                options.gpu,
                **JOB_RESOURCES,
            )
            toil.start(root)
    logger.info("cactus-prepare-toil has finished after %s seconds", round(time.monotonic() - start, 1))


if __name__ == "__main__":
    main()
