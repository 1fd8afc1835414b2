"""Unit-test wiring: a private HOME (the collection's import path is set in tests/conftest.py).

Toil's argument parser writes ~/.toil/default.yaml when it is built, and ansible writes ~/.ansible:
both go to a temp HOME.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory, monkeypatch):
    """Every test gets a HOME of its own; nothing touches the real ~/.toil or ~/.ansible."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    return home


def load_plan_module():
    """What the cactus_plan action runs (module_utils/cactus_plan_run.py), its functions tested directly."""
    from ansible_collections.genomics.cactus.plugins.module_utils import cactus_plan_run

    return cactus_plan_run


@pytest.fixture(scope="session")
def plan_module():
    return load_plan_module()


@pytest.fixture(scope="session")
def write_fasta():
    return _write_fasta


def _write_fasta(path, size=64, name="chr1"):
    """A FASTA file of exactly `size` bytes (header included); at least the header."""
    header = f">{name}\n".encode()
    body = b"ACGT" * (max(0, size - len(header)) // 4 + 1)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as handle:
        handle.write((header + body)[: max(size, len(header))])
    return path
