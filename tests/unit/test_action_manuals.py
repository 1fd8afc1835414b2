"""The manuals of the modules an action plugin runs on the controller (plugins/modules/<name>.py holds
only the manual there) say the options the action takes: their names, types, defaults and whether
required (ansible-test's validate-modules compares a module's manual with its own argument spec, which
such a module file has not)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.genomics.cactus.plugins.action import toil_preflight
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_plan_run, cactus_stage_run

REPO = Path(__file__).resolve().parents[2]
# name: the options its action validates
ACTIONS = {
    "cactus_plan": cactus_plan_run.ARGUMENT_SPEC,
    "cactus_stage": cactus_stage_run.ARGUMENT_SPEC,
    # amazon.aws's AWS options too (its documentation fragments in the manual)
    "toil_preflight": toil_preflight.ARGUMENT_SPEC,
}


@pytest.fixture(scope="module")
def manuals():
    names = [f"genomics.cactus.{name}" for name in ACTIONS]
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-t", "module", "-j", *names],
                          cwd=REPO, env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")),
                          capture_output=True, text=True, timeout=120, check=True)
    return {name.split(".")[-1]: doc["doc"] for name, doc in json.loads(done.stdout).items()}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_manual_matches_the_options_of_the_action(name, manuals):
    spec, documented = ACTIONS[name], manuals[name]["options"]
    assert set(documented) == set(spec)
    for option, rules in spec.items():
        assert documented[option].get("type", "str") == rules.get("type", "str"), option
        assert documented[option].get("default") == rules.get("default"), option
        assert bool(documented[option].get("required")) == bool(rules.get("required")), option
        assert set(documented[option].get("aliases", [])) == set(rules.get("aliases", [])), option
