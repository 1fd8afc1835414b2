"""Role defaults and argument specs from one source: every default an argument spec states is the
value in the role's defaults/main.yml, every variable there is in the spec, and the README's tables
name them."""

from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (TOP / "roles").iterdir() if (p / "defaults" / "main.yml").exists())


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_defaults_are_the_role_defaults(role):
    defaults = yaml.safe_load((TOP / "roles" / role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((TOP / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"].get("options") or {}
    assert set(defaults) <= set(options), f"not in the argument spec: {sorted(set(defaults) - set(options))}"
    for name, spec in options.items():
        if "default" in spec:
            assert name in defaults and defaults[name] == spec["default"], name


def test_readme_names_every_shared_setting():
    readme = (TOP / "README.md").read_text()
    defaults = yaml.safe_load((TOP / "roles" / "cactus_common" / "defaults" / "main.yml").read_text())
    internal = {"toil_region", "toil_cli", "cactus_session", "cactus_leader_venv"}
    missing = [name for name in defaults if name not in internal and f"`{name}`" not in readme]
    assert not missing, missing
