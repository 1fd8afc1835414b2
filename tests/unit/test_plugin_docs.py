"""Every plugin of the project has a manual that ansible-doc can show (the docs are the manual)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
PLUGINS = [
    ("module", f"genomics.cactus.{p.stem}") for p in sorted((TOP / "plugins" / "modules").glob("*.py"))
] + [("inventory", "genomics.cactus.toil_cluster"), ("connection", "genomics.cactus.toil_appliance"),
     ("callback", "genomics.cactus.compact")]


@pytest.mark.parametrize(("kind", "name"), PLUGINS, ids=[f"{k}:{n}" for k, n in PLUGINS])
def test_ansible_doc_shows_the_manual(kind, name, tmp_path):
    env = {**os.environ, "ANSIBLE_CONFIG": str(TOP / "ansible.cfg"), "HOME": str(tmp_path)}
    ansible_doc = str(Path(sys.executable).parent / "ansible-doc")
    result = subprocess.run(
        [ansible_doc, "-t", kind, name], cwd=TOP, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "EXAMPLES" in result.stdout, result.stderr[-2000:]
