# A stdout callback for people: what happened and what to do next, not every task Ansible ran.

DOCUMENTATION = r"""
name: compact
type: stdout
short_description: Compact output - messages, changes and failures, not every task
description:
  - "Prints, per play that shows anything: a C(PLAY [name]) line, then only what a person reads -
    the messages of C(debug) tasks (a list as one line per item), one line per changed task, failures
    and unreachable hosts with their message, and the warnings tasks return. A failure that one of this
    collection's filters explains (for example no plan yet) shows that filter's message alone."
  - "Silent: tasks that are ok and unchanged (argument spec validation included), skipped tasks,
    includes, the retries of an C(until) loop, and plays that show nothing (a play whose tags are not
    asked for prints no header)."
  - "Ends with C(PLAY RECAP) and one line per host, in Ansible's own format
    (C(host : ok=N changed=N unreachable=N failed=N skipped=N rescued=N ignored=N))."
  - With C(-v) or more, every task's result is shown as well, in the C(callback_result_format) format.
  - The collection's C(ansible.cfg) makes it the stdout callback
    (C(stdout_callback = genomics.cactus.compact)).
author:
  - cactus-aws maintainers (@cactus-aws)
version_added: "1.0.0"
extends_documentation_fragment:
  - ansible.builtin.result_format_callback
requirements:
  - python >= 3.11
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# stdout_callback = genomics.cactus.compact
#
# Ansible's usual output for one run:
#   ANSIBLE_STDOUT_CALLBACK=ansible.builtin.default ansible-playbook run_alignment.yml
"""

import re

from ansible import constants as C
from ansible.plugins.callback import CallbackBase

DEBUG_ACTIONS = frozenset({"debug", "ansible.builtin.debug", "ansible.legacy.debug"})
# The most lines of a failed command's stderr or stdout shown (its end: where the error is).
OUTPUT_TAIL = 15
# A failure one of this collection's filters explains (e.g. no plan yet): its words, not Ansible's wrapping.
OWN_FILTER_FAILED = re.compile(r"^Task failed: .*?The filter plugin 'genomics\.cactus\.\w+' failed: (.*)$",
                               re.S)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "genomics.cactus.compact"

    def __init__(self):
        super().__init__()
        self._play_name = None
        self._play_shown = True

    # ---- output helpers ----

    def _say(self, text, color=None):
        if not self._play_shown:
            self._play_shown = True
            self._display.display(f"PLAY [{self._play_name}]", color=C.COLOR_HIGHLIGHT)
        self._display.display(text, color=color)

    @staticmethod
    def _lines(value):
        """A message as lines: a list is one line per item, a string its own lines."""
        if isinstance(value, (list, tuple)):
            return [str(item) for item in value]
        return str(value).splitlines() or [""]

    @staticmethod
    def _task_name(result):
        return result.task.get_name().strip()

    def _verbose(self, result, label):
        if self._display.verbosity > 0:
            self._say(f"{label}: [{self.host_label(result)}] {self._task_name(result)} => "
                      f"{self._dump_results(result.result, indent=4)}", color=C.COLOR_VERBOSE)

    def _failure(self, result, label):
        """Ansible's own first line (fatal: [host]: FAILED!), the task, then the message and output's end."""
        res = result.result
        self._say(f"fatal: [{self.host_label(result)}]: {label} {self._task_name(result)}",
                  color=C.COLOR_ERROR)
        shown = False
        if res.get("msg"):
            own = OWN_FILTER_FAILED.match(res["msg"]) if isinstance(res["msg"], str) else None
            for line in self._lines(own.group(1) if own else res["msg"]):
                self._say(f"  {line}", color=C.COLOR_ERROR)
            shown = True
        for key in ("stderr", "stdout", "module_stderr"):
            text = (res.get(key) or "").strip()
            if text and (key != "stdout" or not shown):
                for line in text.splitlines()[-OUTPUT_TAIL:]:
                    self._say(f"  {line}", color=C.COLOR_ERROR)
                shown = True
        if not shown or self._display.verbosity > 0:
            self._say(f"  {self._dump_results(res, indent=4)}", color=C.COLOR_ERROR)

    # ---- plays and tasks ----

    def v2_playbook_on_play_start(self, play):
        self._play_name = play.get_name().strip()
        self._play_shown = False

    def v2_runner_on_ok(self, result):
        self._handle_warnings_and_exception(result)
        if result.task.action in DEBUG_ACTIONS and not result.task.loop:
            if "msg" in result.result:
                for line in self._lines(result.result["msg"]):
                    self._say(line)
            return
        if result.task.loop and "results" in result.result:
            return  # each item was reported on its own
        if result.result.get("changed"):
            self._say(f"changed: [{self.host_label(result)}] {self._task_name(result)}",
                      color=C.COLOR_CHANGED)
        else:
            self._verbose(result, "ok")

    def v2_runner_item_on_ok(self, result):
        self._handle_warnings_and_exception(result)
        if result.task.action in DEBUG_ACTIONS and "msg" in result.result:
            for line in self._lines(result.result["msg"]):
                self._say(line)
        elif result.result.get("changed"):
            self._say(f"changed: [{self.host_label(result)}] {self._task_name(result)} "
                      f"({self._get_item_label(result.result)})", color=C.COLOR_CHANGED)

    def _handle_failure_extras(self, result):
        """Warnings as usual; the exception (Ansible prints it with the task's source) only with -vvv."""
        self._handle_warnings(result.result)
        if self._display.verbosity >= 3:
            self._handle_exception(result.result)
        result.result.pop("exception", None)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._handle_failure_extras(result)
        if ignore_errors:
            self._verbose(result, "failed (ignored)")
        elif not (result.task.loop and "results" in result.result):
            self._failure(result, "FAILED!")

    def v2_runner_item_on_failed(self, result):
        self._handle_failure_extras(result)
        if not result.task.ignore_errors:
            self._failure(result, f"FAILED! ({self._get_item_label(result.result)})")

    def v2_runner_on_unreachable(self, result):
        self._handle_failure_extras(result)
        self._failure(result, "UNREACHABLE!")

    def v2_runner_on_skipped(self, result):
        pass

    def v2_runner_item_on_skipped(self, result):
        pass

    def v2_runner_retry(self, result):
        pass

    def v2_on_file_diff(self, result):
        if result.result.get("diff") and self._display.verbosity > 0:
            self._say(self._get_diff(result.result["diff"]))

    def v2_playbook_on_stats(self, stats):
        self._display.display("PLAY RECAP", color=C.COLOR_HIGHLIGHT)
        for host in sorted(stats.processed.keys()):
            s = stats.summarize(host)
            self._display.display(
                f"{host} : ok={s['ok']} changed={s['changed']} unreachable={s['unreachable']} "
                f"failed={s['failures']} skipped={s['skipped']} rescued={s['rescued']} ignored={s['ignored']}"
            )
