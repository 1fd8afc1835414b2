# Action plugin: stage the local genomes and compare the inputs with the run record
# (module_utils/cactus_stage_run.py), in the controller's own process, where the genomes and the
# checksum cache are: no module process to start and no module payload to build. Its manual:
# plugins/modules/cactus_stage.py.

from ansible.plugins.action import ActionBase
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_stage_run


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        params = self.validate_argument_spec(argument_spec=cactus_stage_run.ARGUMENT_SPEC)[1]
        try:
            changed, found = cactus_stage_run.run(params, check_mode=self._task.check_mode)
        except cactus_stage_run.StageRefused as refused:
            result.update(refused.result, failed=True)
            return result
        result.update(found, changed=changed)
        return result
