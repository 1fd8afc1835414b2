"""The seqFile corpus: each file read by this project's parser (and the Cactus stand-in's) against the
outcome Cactus v3.2.1's own code gave on it (data/seqfiles/expectations.json; how: its README.md)."""

import importlib.util
import json
from pathlib import Path

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_seqfile import (
    SeqFileError,
    parse_seqfile,
)

DATA = Path(__file__).resolve().parent / "data" / "seqfiles"
EXPECTED = json.loads((DATA / "expectations.json").read_text(encoding="utf-8"))["cases"]
STANDIN = Path(__file__).resolve().parents[1] / "standin" / "cactus" / "src" / "cactus_standin" / "seqfile.py"


def chain(depth):
    """A caterpillar tree `depth` levels deep, with a genome line per leaf (as given to Cactus)."""
    names = [f"g{i}" for i in range(depth + 1)]
    tree = names[0]
    for name in names[1:]:
        tree = f"({tree},{name}:0.01)"
    return tree + ";\n" + "\n".join(f"{name} {name}.fa" for name in names) + "\n"


def case_file(name, tmp_path):
    generate = EXPECTED[name].get("generate")
    if not generate:
        return DATA / f"{name}.txt"
    path = tmp_path / f"{name}.txt"
    path.write_text(chain(generate["chain_depth"]))
    return path


def expected_outcome(case):
    """What this project does: Cactus's outcome, unless it is deliberately stricter."""
    return case.get("project", case["cactus"]["outcome"])


def test_every_corpus_file_has_an_expectation():
    files = {path.stem for path in DATA.glob("*.txt")}
    generated = {name for name, case in EXPECTED.items() if "generate" in case}
    assert files == set(EXPECTED) - generated


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_matches_cactus(name, tmp_path):
    case = EXPECTED[name]
    cactus = case["cactus"]
    if expected_outcome(case) == "rejected":
        with pytest.raises(SeqFileError) as caught:
            parse_seqfile(str(case_file(name, tmp_path)))
        if cactus["outcome"] == "accepted":  # deliberately stricter: the message says what Cactus does
            assert "Cactus" in caught.value.problem, str(caught.value)
        if "generate" in case:  # a tree too deep: the message names its depth
            assert f"the tree is {case['generate']['chain_depth']} levels deep" in caught.value.problem
        return
    seqfile = parse_seqfile(str(case_file(name, tmp_path)))
    genomes = {g.name: g.path for g in seqfile.imported()}
    if "leaf_count" in cactus:  # a generated chain
        assert len(seqfile.leaves) == cactus["leaf_count"] and set(genomes) == set(seqfile.leaves)
        return
    assert genomes == cactus["genomes"]
    assert list(seqfile.leaves) == cactus["leaves"]
    assert [g.name for g in seqfile.genomes if g.outgroup] == cactus["outgroups"]


def load_standin():
    spec = importlib.util.spec_from_file_location("standin_seqfile", STANDIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(n for n, c in EXPECTED.items()
                                        if expected_outcome(c) == "accepted" and "genomes" in c["cactus"]))
def test_standin_reads_what_the_project_accepts_as_cactus_does(name):
    seq = load_standin().parse_seqfile(str(DATA / f"{name}.txt"))
    cactus = EXPECTED[name]["cactus"]
    assert seq.imported == cactus["genomes"] and seq.outgroups == cactus["outgroups"]
    assert [n.name for n in seq.tree.postorder() if n.is_leaf()] == cactus["leaves"]
