# Action plugin: write runs/<run>/report.html on the controller from the run directory's records.
# Its manual: plugins/modules/cactus_report.py.

import importlib.metadata

from ansible.plugins.action import ActionBase
from ansible.release import __version__ as ansible_core_version
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_report


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec={"run_dir": {"type": "path", "required": True}})[1]
        if self._task.check_mode:  # --check writes nothing
            result.update(skipped=True, msg="report.html is not written in check mode", changed=False)
            return result
        versions = {"Toil (controller)": _version("toil"), "ansible-core": ansible_core_version}
        written = cactus_report.write(args["run_dir"], versions)
        # A view of the run's records (like spend.jsonl, refreshed by each look): not a change to the run.
        result.update(written, written=written["changed"], changed=False)
        return result


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
