# Action plugin: toil_preflight's read-only checks (module_utils/toil_preflight_run.py), run in the
# controller's own process with the controller's credentials: no module process to start, no module
# payload to build, and botocore's data read by the inventory plugin is already loaded here. Each run of
# the playbook uses it two to four times. Its manual: plugins/modules/toil_preflight.py.

import os
import shutil
import subprocess

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.genomics.cactus.plugins.module_utils import toil_preflight_run
from ansible_collections.genomics.cactus.plugins.module_utils.aws_session import (
    SharedAWSSession,
    aws_argument_spec,
)

display = Display()

# What the action validates: amazon.aws's AWS options and the checks' own.
ARGUMENT_SPEC = {**aws_argument_spec(), **toil_preflight_run.ARGUMENT_SPEC}


class _Failed(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


class _Controller:
    """What the checks use of an Ansible module (see module_utils/toil_preflight_run.py), here."""

    def __init__(self, params):
        self.params = params
        self._aws = SharedAWSSession(params, self.fail_json)

    @property
    def region(self):
        return self._aws.region

    def client(self, service, **extra_params):
        return self._aws.client(service, **extra_params)

    def fail_json(self, **result):
        raise _Failed(result)

    @staticmethod
    def warn(message):
        display.warning(message)

    @staticmethod
    def get_bin_path(name):
        return shutil.which(name)

    @staticmethod
    def run_command(argv, environ_update=None):
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              env={**os.environ, **(environ_update or {})})
        return done.returncode, done.stdout, done.stderr


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        try:
            result.update(toil_preflight_run.run(_Controller(params)))
        except _Failed as failed:
            result.update(failed.result, failed=True)
        return result
