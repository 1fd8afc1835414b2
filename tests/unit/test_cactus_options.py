"""The data of Cactus v3.2.1's options (plugins/module_utils/cactus_options.py), the Cactus stand-in's
parser, and the check of cactus_extra_options that reads them."""

import sys
from pathlib import Path

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_command import (
    check_extra_option_names,
    check_extra_options,
)
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_options import (
    CACTUS_OPTIONS,
    CACTUS_POSITIONALS,
)
from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

STANDIN_SRC = Path(__file__).resolve().parents[2] / "tests" / "standin" / "cactus" / "src"


def standin_parser():
    if str(STANDIN_SRC) not in sys.path:
        sys.path.insert(0, str(STANDIN_SRC))
    from cactus_standin.cli import make_parser

    return make_parser()


def test_standin_parser_accepts_exactly_toils_options_and_the_cactus_data():
    from toil.job import Job

    toil_options = {o for a in Job.Runner.getDefaultArgumentParser()._actions for o in a.option_strings}
    standin = {o: a for a in standin_parser()._actions for o in a.option_strings}
    assert set(standin) == toil_options | set(CACTUS_OPTIONS)
    for option, spec in CACTUS_OPTIONS.items():
        action = standin[option]
        assert action.nargs == spec["nargs"], option
        assert list(action.choices or []) == spec.get("choices", []), option
        assert action.const == spec.get("const", action.const), option
    positionals = [a.dest for a in standin_parser()._actions if not a.option_strings]
    assert positionals == ["jobStore", *CACTUS_POSITIONALS]


@pytest.mark.parametrize("extra", [
    ["--root", "mr"], ["--roo", "mr"], ["--defaultDisk=8G"], ["--gpu"], ["--gpu", "2", "--fastga"],
    ["--maskMode", "red", "--remask"], ["-e", "A=B"], ["--setEnv", "A=B"], ["--branchScale", "2.0"],
    ["--hdf5Codec=zstd"], ["--realTimeLogging", "True"],
])
def test_known_options_pass(extra):
    check_extra_option_names(extra)


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--rooot", "x"], "'--rooot' is not an option of cactus v3.2.1 (its own options and Toil 9.4.1's). "
                       "Fix: did you mean --root?"),
    (["--maxJ", "3"], "'--maxJ' is an ambiguous prefix of --maxJobDuration, --maxJobs"),
    (["--maskMode", "blue"], "--maskMode 'blue' is not one of red, fastan, lastz, none, default"),
    (["--root", "mr", "stray"], "'stray' is neither a cactus option nor an option's value"),
    (["--root"], "'--root' needs a value"),
    (["-z"], "'-z' is not an option of cactus v3.2.1"),
])
def test_unknown_or_ambiguous_options_fail_naming_the_variable(extra, fragment):
    with pytest.raises(CactusError) as caught:
        check_extra_options(extra, 4)
    assert str(caught.value).startswith("cactus_extra_options: ")
    assert fragment in str(caught.value)


def test_every_option_the_standin_knows_passes_the_check():
    """Each of the stand-in's options, with a value where it takes one, is accepted."""
    for action in standin_parser()._actions:
        for option in action.option_strings:
            value = [str(action.choices[0])] if action.choices else ["1"] if action.nargs is None else []
            if option in ("-h", "--help", "--version"):
                continue
            check_extra_option_names([option, *value])


def test_one_walk_reads_options_for_both_programs():
    """option_walk is the one home of the argparse-style walk: groups as argparse reads them, and a
    stray value said with the program's name."""
    from ansible_collections.genomics.cactus.plugins.module_utils.option_walk import walk_options

    def unknown(name):
        raise CactusError("v", f"'{name}' unknown", "")

    table = {"--gpu": ("?", None), "--maskMode": (None, ("red", "none")), "--remask": (0, None),
             "-e": (None, None)}
    tokens = ["--gp", "--mask=red", "--remask", "-eA=B", "--gpu", "2"]
    groups = walk_options(tokens, table, "v", "prog v1", unknown)
    assert groups == [("--gp", "--gpu", []), ("--mask", "--maskMode", ["red"]), ("--remask", "--remask", []),
                      ("-e", "-e", ["A=B"]), ("--gpu", "--gpu", ["2"])]
    with pytest.raises(CactusError, match="'x' is neither a prog option nor an option's value"):
        walk_options(["x"], table, "v", "prog v1", unknown)
    with pytest.raises(CactusError, match="'--nope' unknown"):
        walk_options(["--nope"], table, "v", "prog v1", unknown)
