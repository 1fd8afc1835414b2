"""The steps of a cactus-prepare-toil run as `toil status --perJob` shows them: how many jobs of each
step (preprocess, blast, align, halAppend) are still in the job store, ready to run or completely failed.
Cactus v3.2.1 names the job functions below."""

STEP_FUNCTIONS = {
    "preprocess": "toil_call_preprocess",
    "blast": "toil_call_blast",
    "align": "toil_call_align",
    "halAppend": "toil_call_hal_append_subtrees",
}


def cactus_step_jobs(lines):
    """{steps: {step: {jobs, ready, failed}}, text: one line} from `toil status --perJob` lines."""
    steps = {}
    for line in lines or []:
        if not line.startswith("JOB:"):
            continue
        name = line[len("JOB:") :].split("\t", 1)[0]
        for step, function in STEP_FUNCTIONS.items():
            if f"'{function}'" in name:
                counts = steps.setdefault(step, {"jobs": 0, "ready": 0, "failed": 0})
                counts["jobs"] += 1
                counts["ready"] += "READY_TO_RUN" in line
                counts["failed"] += "COMPLETELY_FAILED" in line
    parts = []
    for step, c in steps.items():
        failed = f", {c['failed']} failed" if c["failed"] else ""
        parts.append(f"{step} {c['jobs']} ({c['ready']} ready{failed})")
    text = ", ".join(parts)
    return {"steps": steps, "text": text}


class FilterModule:
    def filters(self):
        return {"cactus_step_jobs": cactus_step_jobs}
