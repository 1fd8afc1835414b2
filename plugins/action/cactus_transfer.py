# Action plugin: send the plan's local genomes to the target with rsync and check every file there,
# in one task. Its manual: plugins/modules/cactus_transfer.py; its decisions: module_utils
# cactus_transfer, cactus_stage and cactus_inputs.
#
# One look at the target (the cactus_verify module, read-only) says what it holds; when that is every
# file, verified earlier and unchanged since, nothing is sent. Otherwise rsync runs while the files
# the checksum cache lacks are hashed (the same reads, so each file comes from disk once; the hash
# starts before the look), then cactus_verify checks on the target what rsync did not prove.

import json
import os
import subprocess

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.genomics.cactus.plugins.filter.cactus_run import cactus_run_state
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_stage as staging
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_transfer as rules
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_inputs import (
    RESTARTABLE,
    changes,
    fingerprints,
    verdict,
)

VERIFY = "genomics.cactus.cactus_verify"
SPEC = {
    "genomes": {"type": "list", "elements": "dict", "required": True},
    "genomes_dir": {"type": "str", "required": True},
    "stage_dir": {"type": "path", "required": True},
    "cache": {"type": "path", "required": True},
    "argv": {"type": "list", "elements": "str", "required": True},
    "seqfile_path": {"type": "str", "required": True},
    "seqfile_text": {"type": "str", "default": ""},
    "inputs_file": {"type": "path", "required": True},
    "run": {"type": "dict"},
    "state": {"type": "str"},
    "record_path": {"type": "str", "default": ""},
    "record_copy": {"type": "path", "default": ""},
    "session": {"type": "str", "default": ""},
    "jobstore": {"type": "str", "default": ""},
    "name_variable": {"type": "str", "default": "toil_jobstore_name"},
    "name_value": {"type": "str", "default": ""},
    "output": {"type": "str", "default": ""},
    "timeout": {"type": "int", "default": 86400},
    "workers": {"type": "int", "default": 0},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        self._vars = task_vars
        args = self.validate_argument_spec(argument_spec=SPEC)[1]
        check = bool(self._task.check_mode)
        try:
            links, files = staging.layout(args["genomes"], args["genomes_dir"])
            changed = staging.place_links(args["stage_dir"], links, dry_run=check)
            cache = staging.read_cache(args["cache"])
            stamps = [staging.stamp(pair[0]) for pair in files]
        except (OSError, ValueError) as e:
            raise AnsibleActionFail(f"cannot stage the local genomes: {e}") from e
        stamp_of = dict(stamps)
        pending = staging.stale_keys(stamps, cache)

        # The files the cache lacks are hashed in any case: from now on, beside the look and rsync.
        hasher = None if check or not pending else staging.BackgroundHash(cache, pending, stamp_of)
        try:
            return self._send(args, result, check, changed, cache, files, stamps, pending, hasher)
        finally:
            if hasher:
                hasher.stop()

    def _send(self, args, result, check, changed, cache, files, stamps, pending, hasher):
        stamp_of = dict(stamps)
        expected = rules.expected_stats(files, stamp_of)

        def manifest():
            return staging.manifest_text([cache[pair[0]]["sha256"] for pair in stamps], files)

        # One look at the target: what it holds, and (unless this play knows it) the run's state.
        known = args["run"] is not None and args["state"] is not None
        look = self._verify(look=True, path=args["genomes_dir"], manifest_text="" if pending else manifest(),
                            seqfile_path=args["seqfile_path"], seqfile_text=args["seqfile_text"],
                            record_path=None if known else args["record_path"], session=args["session"])
        changed |= look.get("changed", False)
        if known:
            record, state = args["run"], args["state"]
        else:
            record = look["record"] or self._controller_record(args["record_copy"])
            state = cactus_run_state(record, look["alive"])
        result["run"], result["state"] = record, state
        # Only a record of this job store describes what is on the target (another is an earlier run's).
        record = record if record.get("jobstore") == args["jobstore"] else {}
        # A started run's inputs are compared before anything is sent: hash what the cache lacks first.
        started = bool((record.get("inputs") or {}).get("genomes")) and state in RESTARTABLE + ("finished",)
        if pending and started:
            try:
                if hasher:
                    hasher.finish(args["workers"])
                else:  # check mode: hashed here, as nothing else reads the files
                    staging.hash_into(cache, pending, stamp_of, args["workers"])
            except OSError as e:
                raise AnsibleActionFail(f"cannot read a local genome: {e}") from e
            pending = []
            if not check:
                staging.write_cache(args["cache"], cache)
            look = {}  # looked at without the manifest: not in place
        inputs = None
        if not pending:
            text = manifest()
            inputs = self._compare(args, text, record, state, result)
            if look and not rules.not_in_place(text, expected, look):
                changed |= self._write_controller_side(args, text, inputs, check)
                result.update(changed=changed, sent=[], files=len(files), hashed=0, stats=[
                    f"Nothing to send: the target holds all {len(files)} files, verified earlier and "
                    "unchanged since (rsync was not run).",
                    "Number of regular files transferred: 0"])  # fmt: skip
                return self._done(result, files, stamps, inputs)
        if check:
            result.update(changed=True, sent=[], files=len(files), hashed=0, stats=[],
                          msg="check mode: nothing sent")
            return self._done(result, files, stamps, inputs)

        # rsync reads and sends each file while the files the cache lacks are hashed (started above).
        try:
            out = self._rsync(args, args["argv"], cache, hasher=hasher if pending else None)
            names = [n for n in rules.written(out) if n != rules.MANIFEST]
            moved = [key for key in pending if staging.stamp(key)[1] != stamp_of[key]]
        except OSError as e:
            raise AnsibleActionFail(f"cannot read a local genome: {e}") from e
        kept, changed_names = rules.check_stamps(args["stage_dir"], cache, names)
        if moved or changed_names:
            raise AnsibleActionFail(
                f"{', '.join(changed_names or moved)} changed on the controller while it was sent (its "
                "SHA-256 was taken before): run --tags transfer again when the genomes stay unchanged.")
        text = manifest()
        if inputs is None:
            inputs = self._compare(args, text, record, state, result)
        changed |= self._write_controller_side(args, text, inputs, check) or bool(names)

        verify = {"path": args["genomes_dir"], "manifest_text": text, "workers": args["workers"],
                  "seqfile_path": args["seqfile_path"], "seqfile_text": args["seqfile_text"]}
        verified = self._verify(sent=kept, **verify)
        if verified["mismatched"]:
            # rsync again for those files only, comparing contents (a damaged copy is the basis of a delta).
            argv = args["argv"][:-2] + ["--ignore-times", "--files-from=-"] + args["argv"][-2:]
            again = self._rsync(args, argv, cache, stdin="\n".join(verified["mismatched"]) + "\n")
            out += again
            resent = rules.check_stamps(args["stage_dir"], cache, rules.written(again))[0]
            verified = self._verify(sent=resent, **verify)
            if verified["mismatched"]:
                raise AnsibleActionFail(
                    f"{', '.join(verified['mismatched'])} on the target still differ from the controller's "
                    "files after a second rsync: check the target's disk, then run --tags transfer again.")
        changed |= verified.get("changed", False)
        result.update(changed=changed, sent=kept, files=len(files), hashed=verified["hashed"],
                      stats=rules.stats(out))
        return self._done(result, files, stamps, inputs)

    # ---- pieces ----

    def _verify(self, **module_args):
        """cactus_verify on the target (its look, or its check); fails the task when it fails."""
        done = self._execute_module(module_name=VERIFY, module_args=module_args, task_vars=self._vars)
        if done.get("failed"):
            raise AnsibleActionFail(done.get("msg", "cactus_verify failed"), result=done)
        return done

    @staticmethod
    def _controller_record(path):
        try:
            with open(path) as f:
                record = json.load(f)
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    @staticmethod
    def _compare(args, text, record, state, result):
        """The inputs' fingerprints, compared with the started run's: stops before anything is sent."""
        inputs = fingerprints(args["genomes"], text, args["seqfile_text"], args["genomes_dir"])
        found = changes(record.get("inputs"), inputs)
        stop, message = verdict(state, found, args["jobstore"], args["name_variable"], args["name_value"],
                                args["output"])
        result["changed_inputs"], result["inputs_message"] = found, message
        if stop:
            raise AnsibleActionFail(message, result={"changed_inputs": found, "inputs_message": message})
        return inputs

    @staticmethod
    def _write_controller_side(args, text, inputs, check):
        """The staging manifest and inputs.json (what was sent; the run record keeps it when the
        alignment starts); True when either changed."""
        body = json.dumps(inputs, indent=4, sort_keys=True) + "\n"
        changed = staging.write_if_different(os.path.join(args["stage_dir"], rules.MANIFEST), text, check)
        return staging.write_if_different(args["inputs_file"], body, check) or changed

    @staticmethod
    def _rsync(args, argv, cache, stdin=None, hasher=None):
        """Run rsync; once it succeeded, `hasher` (hashing beside it) finishes. Returns rsync's stdout."""
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(input=stdin, timeout=args["timeout"])
            if hasher and proc.returncode == 0:
                hasher.finish(args["workers"])
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AnsibleActionFail(f"rsync ran longer than {args['timeout']} s: run --tags transfer again "
                                    "to resume it") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            if hasher:
                hasher.stop()
            staging.write_cache(args["cache"], cache)  # hashes taken so far serve the resumed transfer
        if proc.returncode != 0:
            why = f"rsync exited {proc.returncode}: {err.strip()[-2000:]} (a re-run resumes the transfer)"
            raise AnsibleActionFail(why, result={"stats": rules.stats(out), "stdout": out})
        return out

    @staticmethod
    def _done(result, files, stamps, inputs):
        """What the later steps of this play read (the role keeps it): the inputs as compared."""
        result["bytes"] = sum(pair[1][0] for pair in stamps)
        result["inputs"] = inputs or {}
        result["compared"] = inputs is not None
        result.setdefault("changed_inputs", [])
        result.setdefault("inputs_message", "")
        return result
