"""One source for the defaults: each role's defaults/main.yml says what a variable defaults to; its
meta/argument_specs.yml, the README's variable tables, the planner's Python defaults
(module_utils/cactus_settings.py) and the modules' options must say the same. This fails on a drift."""

import re
from pathlib import Path

import pytest
import yaml
from ansible_collections.genomics.cactus.plugins.module_utils import cactus_settings as settings
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_options import CACTUS_OPTIONS_VERSION
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_plan import PlanSettings
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_sizing import (
    LEADER_BASE_STORAGE_GB,
    default_node_types,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_step_plan import (
    default_node_types as prepare_toil_node_types,
)
from ansible_collections.genomics.cactus.plugins.module_utils.toil_preflight import DEFAULT_MAX_AGENT_KEYS

REPO = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (REPO / "roles").iterdir() if (p / "defaults" / "main.yml").exists())
README = (REPO / "README.md").read_text()
# Empty values mean "from the plan", "not used" or "required": the README says which in words.
EMPTY = ("", 0, [], {}, False, None)


def role_defaults(role):
    return yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}


def role_options(role):
    """{variable: option} over every entry point of the role's argument specs."""
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return {name: option for spec in specs.values() for name, option in (spec.get("options") or {}).items()}


def readme_rows():
    """{variable: default cell} of the README's variable tables (a row may name several variables)."""
    rows = {}
    for names, default in re.findall(r"^\| (`[a-z0-9_]+`(?:, `[a-z0-9_]+`)*) \| ([^|]*) \|", README, re.M):
        for name in re.findall(r"`([a-z0-9_]+)`", names):
            rows[name] = default
    return rows


ALL_DEFAULTS = {name: value for role in ROLES for name, value in role_defaults(role).items()}


def templated(value):
    return isinstance(value, str) and "{{" in value


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_argument_specs_carry_every_default(role):
    """Every variable of defaults/main.yml is an option with the same default (a default computed by
    Jinja from other variables is described, not repeated), and every option has a default there."""
    defaults, options = role_defaults(role), role_options(role)
    assert set(options) == set(defaults), "options and defaults differ"
    for name, value in defaults.items():
        if templated(value):
            assert "default" not in options[name], f"{name}: leave the computed default to defaults/main.yml"
        else:
            assert options[name].get("default", "<missing>") == value, name


def test_readme_tables_name_every_variable_with_its_default():
    rows = readme_rows()
    missing = sorted(set(ALL_DEFAULTS) - set(rows))
    assert not missing, f"variables missing from the README's tables: {missing}"
    for name, value in ALL_DEFAULTS.items():
        if templated(value) or value in EMPTY:
            continue
        shown = value if not isinstance(value, list) else "[" + ", ".join(map(str, value)) + "]"
        shown = {True: "true", False: "false"}.get(shown, shown) if isinstance(shown, bool) else shown
        assert f"`{shown}`" in rows[name], f"{name}: the README says {rows[name]!r}, the default is {value!r}"


def test_python_defaults_equal_the_role_defaults():
    assert ALL_DEFAULTS["toil_spot_bid"] == settings.DEFAULT_SPOT_BID == PlanSettings().spot_bid
    assert ALL_DEFAULTS["toil_cluster_type"] == settings.DEFAULT_CLUSTER_TYPE == PlanSettings().cluster_type
    assert ALL_DEFAULTS["cactus_version"] == settings.DEFAULT_CACTUS_VERSION == PlanSettings().cactus_version
    assert settings.DEFAULT_CACTUS_VERSION == CACTUS_OPTIONS_VERSION  # the option data is of that release
    batch_system = settings.DEFAULT_HOST_BATCH_SYSTEM
    assert ALL_DEFAULTS["cactus_batch_system"] == batch_system == PlanSettings().batch_system
    assert ALL_DEFAULTS["toil_prereqs_max_agent_keys"] == DEFAULT_MAX_AGENT_KEYS


def test_module_options_use_the_python_defaults(plan_module):
    spec = plan_module.ARGUMENT_SPEC
    assert spec["spot_bid"]["default"] == settings.DEFAULT_SPOT_BID
    assert spec["cluster_type"]["default"] == settings.DEFAULT_CLUSTER_TYPE
    assert spec["cactus_version"]["default"] == settings.DEFAULT_CACTUS_VERSION
    assert spec["batch_system"]["default"] == settings.DEFAULT_HOST_BATCH_SYSTEM
    assert spec["retry_count"]["default"] == settings.DEFAULT_RETRY_COUNT
    assert spec["run_tag_key"]["default"] == settings.RUN_TAG_KEY
    assert spec["http_timeout"]["default"] == ALL_DEFAULTS["cactus_plan_http_timeout"]


def test_the_plans_own_defaults_are_the_ones_every_copy_names():
    """Settings whose empty default means "from the plan": the defaults file, the argument spec and the
    README name the planner's value (the leader type and disk, the Slurm job limit, the node types)."""
    common = REPO / "roles" / "cactus_common"
    texts = {"defaults": (common / "defaults" / "main.yml").read_text(), "README": README}
    options = role_options(common)
    rows = readme_rows()
    leader = settings.DEFAULT_LEADER_NODE_TYPE
    assert leader in options["toil_leader_node_type"]["description"]
    assert f"`{leader}`" in rows["toil_leader_node_type"]
    assert f"{LEADER_BASE_STORAGE_GB} GB" in options["toil_leader_storage"]["description"]
    assert f"Toil's {LEADER_BASE_STORAGE_GB}" in rows["toil_leader_storage"]
    max_jobs = str(settings.DEFAULT_SLURM_MAX_JOBS)
    assert max_jobs in options["cactus_max_jobs"]["description"]
    assert f"({max_jobs})" in rows["cactus_max_jobs"]
    pair = ", ".join(f'"{t}"' for t in default_node_types())
    prepare_toil_pair = ", ".join(f'"{t}"' for t in prepare_toil_node_types())
    for where, text in texts.items():
        assert f"[{prepare_toil_pair}]" in text, where
        assert f"({leader};" in text or f"`{leader}`" in text, where
        assert f"[{pair}]" in text, where
        assert f"0: {max_jobs}" in text or f"({max_jobs})" in text, where
