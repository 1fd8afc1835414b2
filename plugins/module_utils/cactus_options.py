# The options Cactus v3.2.1's `cactus` command adds to Toil's workflow parser: DATA, no code.
#
# How it was obtained: `git show v3.2.1:src/cactus/progressive/cactus_progressive.py`, function
# main(). Its parser is Toil's own `Job.Runner.getDefaultArgumentParser()` (the job store positional
# and every Toil option: the plan reads those from the installed Toil 9.4.1, the version v3.2.1
# pins), then main() adds the two positionals and the options below with parser.add_argument. It
# calls no option helper of cactus.shared.common (setupBinaries and cactus_override_toil_options
# only read the parsed options). Each entry keeps what a check of a command line needs: how many
# values the option takes (argparse's nargs: None = one, 0 = none, "?" = an optional one), the
# allowed values (choices) and the value's type. When cactus_version changes, read the new
# release's main() again and update this table (tests/unit/test_cactus_options.py compares it with
# the Cactus stand-in's parser).

CACTUS_OPTIONS_VERSION = "v3.2.1"

CACTUS_POSITIONALS = ("seqFile", "outputHal")

CACTUS_OPTIONS = {
    "--configFile": {"nargs": None, "type": "str"},
    "--root": {"nargs": None, "type": "str"},
    "--latest": {"nargs": 0},
    "--containerImage": {"nargs": None, "type": "str"},
    "--binariesMode": {"nargs": None, "type": "str", "choices": ["docker", "local", "singularity"]},
    "--gpu": {"nargs": "?", "type": "str", "const": "all"},
    "--lastzCores": {"nargs": None, "type": "int"},
    "--lastzMemory": {"nargs": None, "type": "size"},
    "--fastga": {"nargs": 0},
    "--consCores": {"nargs": None, "type": "int"},
    "--consMemory": {"nargs": None, "type": "size"},
    "--intermediateResultsUrl": {"nargs": None, "type": "str"},
    "--skipPreprocessor": {"nargs": 0},
    "--maxOutgroups": {"nargs": None, "type": "int"},
    "--chromInfo": {"nargs": None, "type": "str"},
    "--maskMode": {"nargs": None, "type": "str", "choices": ["red", "fastan", "lastz", "none", "default"]},
    "--remask": {"nargs": 0},
    "--branchScale": {"nargs": None, "type": "float"},
    "--hdf5Codec": {"nargs": None, "type": "str", "choices": ["deflate", "lz4", "zstd", "none"]},
}
