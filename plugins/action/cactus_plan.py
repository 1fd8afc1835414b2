# Action plugin: the plan (module_utils/cactus_plan_run.py), made in the controller's own process: the
# seqFile, the genomes and plan.json are the controller's, and EC2 is asked with its credentials; no
# module process to start and no module payload to build. Its manual: plugins/modules/cactus_plan.py.

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_plan_run
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_measure import MeasureError
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        params = self.validate_argument_spec(argument_spec=cactus_plan_run.ARGUMENT_SPEC)[1]
        try:
            made = cactus_plan_run.run(params, check_mode=self._task.check_mode)
        except CactusError as error:  # names its variable (a seqFile problem: cactus_seqfile, path, line)
            result.update(failed=True, msg=str(error), variable=error.variable)
            return result
        except MeasureError as error:
            result.update(failed=True, msg=f"cactus_seqfile: {params['seqfile']}: {error}",
                          variable="cactus_seqfile")
            return result
        for warning in made["plan"]["warnings"]:
            display.warning(warning)
        result.update(made)
        return result
