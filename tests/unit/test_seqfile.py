"""seqFile parsing: every rule of Cactus v3.2.1's SeqFile.parseFile and tree checks, good and bad."""

import os

import pytest
from ansible_collections.genomics.cactus.plugins.module_utils.cactus_seqfile import (
    SeqFileError,
    parse_seqfile,
    parse_seqfile_text,
)

BASE = "/data/run"
SEQFILE = f"{BASE}/seq.txt"

# Cactus's examples/evolverMammals.txt (space-separated, URLs shortened).
EVOLVER_MAMMALS = """\
((simHuman_chr6:0.144018,(simMouse_chr6:0.084509,simRat_chr6:0.091589)mr:0.271974):0.020593,\
(simCow_chr6:0.18908,simDog_chr6:0.16303):0.032898);

simCow_chr6 https://example.org/evolver/mammals/loci1/simCow.chr6
simDog_chr6 https://example.org/evolver/mammals/loci1/simDog.chr6
simHuman_chr6 https://example.org/evolver/mammals/loci1/simHuman.chr6
simMouse_chr6 https://example.org/evolver/mammals/loci1/simMouse.chr6
simRat_chr6 https://example.org/evolver/mammals/loci1/simRat.chr6
"""


def parse(text):
    return parse_seqfile_text(text, SEQFILE)


# ---- Good files -----------------------------------------------------------------------------------

GOOD = [
    # (id, text, expected leaves, expected {name: (path, kind, outgroup)} subset)
    ("spaces", "(a,b);\na a.fa\nb b.fa\n", ["a", "b"], {"a": ("a.fa", "local", False)}),
    ("tabs", "(a,b);\na\ta.fa\nb\t\tb.fa\n", ["a", "b"], {"b": ("b.fa", "local", False)}),
    ("mixed whitespace and indentation", "  (a,b);  \n\t a \t a.fa  \n b    b.fa\n", ["a", "b"], {}),
    ("crlf line ends", "(a,b);\r\na a.fa\r\nb b.fa\r\n", ["a", "b"], {"a": ("a.fa", "local", False)}),
    ("comments and blank lines", "# head\n\n(a,b);\n# mid\n\n   # indented comment\na a.fa\n\nb b.fa\n#",
     ["a", "b"], {}),
    ("tree after genome lines", "a a.fa\n(a,b);\nb b.fa\n", ["a", "b"], {}),
    ("outgroup marks", "((a,b),c);\n*a a.fa\nb b.fa\n*c c.fa\n", ["a", "b", "c"],
     {"a": ("a.fa", "local", True), "b": ("b.fa", "local", False), "c": ("c.fa", "local", True)}),
    ("two genomes without a tree", "a a.fa\nb b.fa\n", ["a", "b"], {}),
    ("path is the rest of the line, joined by one space", "(a,b);\na my   genome.fa\nb b.fa\n",
     ["a", "b"], {"a": ("my genome.fa", "local", False)}),
    ("urls", "((a,b),(c,d));\na http://h/a.fa\nb https://h/b.fa.gz\nc s3://bucket/c.fa\nd ftp://h/d.fa\n",
     ["a", "b", "c", "d"], {"a": ("http://h/a.fa", "http", False), "b": ("https://h/b.fa.gz", "http", False),
                            "c": ("s3://bucket/c.fa", "s3", False), "d": ("ftp://h/d.fa", "ftp", False)}),
    ("whitespace and quotes inside the tree", "( 'a' , \"b\" ) ;\na a.fa\nb b.fa\n", ["a", "b"], {}),
    ("branch lengths, exponents and ancestor names", "((a:1e-3,b:0.5)anc1:0.2,c:2)root;\na a\nb b\nc c\n",
     ["a", "b", "c"], {}),
    ("single-token tree line", "(a,b);\na a.fa\nb b.fa\n", ["a", "b"], {}),
]


@pytest.mark.parametrize("text,leaves,expected", [g[1:] for g in GOOD], ids=[g[0] for g in GOOD])
def test_good_seqfiles(text, leaves, expected):
    seqfile = parse(text)
    assert list(seqfile.leaves) == leaves
    by_name = {g.name: g for g in seqfile.genomes}
    for name, (path, kind, outgroup) in expected.items():
        assert (by_name[name].path, by_name[name].kind, by_name[name].outgroup) == (path, kind, outgroup)


def test_cactus_example_evolver_mammals():
    seqfile = parse(EVOLVER_MAMMALS)
    assert seqfile.leaves == ("simHuman_chr6", "simMouse_chr6", "simRat_chr6", "simCow_chr6", "simDog_chr6")
    assert [g.name for g in seqfile.aligned()] == list(seqfile.leaves)
    assert all(g.kind == "http" for g in seqfile.genomes)
    assert seqfile.tree.startswith("((simHuman_chr6:0.144018") and seqfile.warnings == ()


def test_tree_less_file_keeps_file_order_and_no_tree():
    seqfile = parse("b b.fa\na a.fa\n")
    assert seqfile.tree is None and seqfile.leaves == ("b", "a")


def test_line_numbers_are_recorded():
    seqfile = parse("# c\n(a,b);\n\na a.fa\nb b.fa\n")
    assert [g.line for g in seqfile.genomes] == [4, 5]


# ---- Paths ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("written,resolved", [
    ("a.fa", f"{BASE}/a.fa"),
    ("sub/dir/a.fa", f"{BASE}/sub/dir/a.fa"),
    ("../other/a.fa", "/data/other/a.fa"),
    ("./x:y.fa", f"{BASE}/x:y.fa"),
    ("/abs/a.fa", "/abs/a.fa"),
    ("file:///abs/a%20b.fa", "/abs/a b.fa"),
    ("file://localhost/abs/a.fa", "/abs/a.fa"),
])
def test_local_paths_resolve_against_the_seqfile_directory(written, resolved):
    seqfile = parse(f"(a,b);\na {written}\nb /b.fa\n")
    assert seqfile.genomes[0].kind == "local"
    assert seqfile.genomes[0].resolved == resolved


def test_parse_seqfile_reads_a_real_file(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("(a,b);\na a.fa\nb sub/b.fa\n")
    seqfile = parse_seqfile(str(path))
    assert seqfile.genomes[1].resolved == os.path.join(str(tmp_path), "sub", "b.fa")


def test_missing_seqfile_is_an_error(tmp_path):
    with pytest.raises(SeqFileError, match="file not found"):
        parse_seqfile(str(tmp_path / "nope.txt"))


# ---- Warnings (Cactus accepts, but the user should know) -------------------------------------------

@pytest.mark.parametrize("text,fragment", [
    ("(a,b);\na a\nb b\nextra e.fa\n", "genome 'extra' is not in the tree"),
    ("((a,b)12,c);\na a\nb b\nc c\n12 x\n", "genome '12' names a numeric ancestor"),
    ("((a,b)12,c);\na a\nb b\nc c\n", "ancestor name '12'"),
    ("(a:3.5,b);\na a\nb b\n", "long branch length 3.5"),
])
def test_warnings(text, fragment):
    warnings = parse(text).warnings
    assert any(fragment in w for w in warnings), warnings


def test_unused_genomes_are_not_aligned():
    seqfile = parse("(a,b);\nz z.fa\na a.fa\nb b.fa\n")
    assert [g.name for g in seqfile.aligned()] == ["a", "b"] == [g.name for g in seqfile.imported()]


def test_ancestors_with_genome_lines_are_imported():
    seqfile = parse("((a:0.1,b:0.1)x:0.1,c:0.2)r;\nr r.fa\na a.fa\nb b.fa\nc c.fa\nx s3://bucket/x.fa\n")
    assert seqfile.ancestors == ("r", "x") and [g.name for g in seqfile.aligned()] == ["a", "b", "c"]
    assert [(g.name, g.kind) for g in seqfile.imported()] == [
        ("a", "local"), ("b", "local"), ("c", "local"), ("r", "local"), ("x", "s3")]
    assert seqfile.warnings == ()


def test_unused_lines_are_not_checked():
    seqfile = parse("(a,b);\na a.fa\nb b.fa\nz:1 gs://bucket/z.fa\n")
    assert seqfile.genomes[2].kind == "unused" and "'z:1' is not in the tree" in seqfile.warnings[0]


def test_undecodable_bytes_are_an_error(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"(a,b);\r\na a.fa\r\nb b\xff.fa\n")
    with pytest.raises(SeqFileError, match="byte 0xff is not UTF-8") as caught:
        parse_seqfile(str(path))
    assert caught.value.line == 3


# ---- Bad files: every error names the line (when there is one), the problem and the fix ----------

BAD = [
    # (id, text, line or None, fragment of the problem)
    ("duplicate name", "(a,b);\na a.fa\nb b.fa\na c.fa\n", 4, "duplicate genome name 'a' (first on line 2)"),
    ("duplicate with outgroup mark", "(a,b);\na a.fa\n*a b.fa\n", 3, "duplicate genome name 'a'"),
    ("colon in name", "a a.fa\nb:1 b.fa\n", 2, "contains ':'"),
    ("parenthesis in name", "a(x a.fa\nb b.fa\n", 1, "contains '('"),
    ("comma in name", "a,b x.fa\nc c\n", 1, "contains ','"),
    ("semicolon in name", "a; x.fa\nb b\n", 1, "contains ';'"),
    ("quote in name", "'a' x.fa\nb b\n", 1, "contains"),
    ("double outgroup mark", "**a a.fa\nb b.fa\n", 1, "contains '*'"),
    ("star alone", "(a,b);\n* a a.fa\nb b.fa\n", 2, "'*' stands alone"),
    ("genome line without a path", "(a,b);\na\nb b.fa\n", 2, "has no path"),
    ("second tree", "(a,b);\n(b,a);\na a\nb b\n", 2, "a second tree line"),
    ("tree without semicolon", "(a,b)\na a\nb b\n", 1, "ending with ';'"),
    ("two trees on one line", "(a,b);(c,d);\na a\nb b\n", 1, "';' inside the tree"),
    ("unbalanced open", "((a,b);\na a\nb b\n", 1, "unbalanced '('"),
    ("unbalanced close", "(a,b));\na a\nb b\n", 1, "unbalanced ')'"),
    ("multifurcation at the root", "(a,b,c);\na a\nb b\nc c\n", 1, "has 3 children"),
    ("multifurcation inside", "((a,b,c)x,d);\na a\nb b\nc c\nd d\n", 1, "node x has 3 children"),
    ("single-child node", "((a),b);\na a\nb b\n", 1, "single child"),
    ("root branch length", "(a,b):0.1;\na a\nb b\n", 1, "root has a branch length"),
    ("branch length over Cactus's cap", "(a:30,b);\na a\nb b\n", 1, "over 25.0"),
    ("branch length not a number", "(a:x,b);\na a\nb b\n", 1, "is not a number"),
    ("two colons", "(a:1:2,b);\na a\nb b\n", 1, "more than one ':'"),
    ("text after a closing bracket", "((a,b)c(d),e);\na a\nb b\n", 1, "text next to '('"),
    ("two trees side by side", "(a,b)(c,d);\na a\nb b\n", 1, "text next to '('"),
    ("a sibling after the root", "(a,b)x,y;\na a\nb b\n", 1, "a ',' after the root"),
    ("empty leaf name", "(a,);\na a\n", 1, "has no name"),
    ("leaf twice in the tree", "((a,b),a);\na a\nb b\n", 1, "appears twice"),
    ("ancestor named like a leaf", "((a,b)a,c);\na a\nb b\nc c\n", 1, "ancestor 'a' is named like"),
    ("ancestor named like a later leaf", "((b,c)a,a);\na a\nb b\nc c\n", 1, "ancestor 'a' is named like"),
    ("ancestor named twice", "(((a,b)x,c)x,d);\na a\nb b\nc c\nd d\n", 1, "ancestor 'x' is named like"),
    ("negative branch length", "(a:-0.1,b);\na a\nb b\n", 1, "is negative"),
    ("nan branch length", "(a:nan,b);\na a\nb b\n", 1, "is NaN"),
    ("non-ascii whitespace in the tree", "(a,\u00a0b);\na a\nb b\n", 1, "non-ASCII whitespace U+00A0"),
    ("byte-order mark", "\ufeff(a,b);\na a\nb b\n", 1, "byte-order mark"),
    ("generated ancestor name", "((a,b),c);\na a\nb b\nc c\nAnc0 r.fa\n", 5, "names unnamed ancestors"),
    ("star inside the tree", "(*a,b);\na a\nb b\n", 1, "'*' inside the tree"),
    ("leaf without genome line", "((a,b),c);\na a\nb b\n", 1, "without a genome line: c"),
    ("one-leaf tree", "a;\na a.fa\n", 1, "fewer than two leaves"),
    ("no tree for three genomes", "a a\nb b\nc c\n", None, "no tree for 3 genomes"),
    ("only one genome", "a a.fa\n", None, "only one genome"),
    ("no genome lines", "# nothing\n(a,b);\n", None, "no genome lines"),
    ("gs url", "(a,b);\na gs://bucket/a.fa\nb b\n", 2, "google extra"),
    ("unknown scheme", "(a,b);\na foo:bar/a.fa\nb b\n", 2, "scheme 'foo:'"),
    ("tilde path", "(a,b);\na ~/a.fa\nb b\n", 2, "starts with '~'"),
    ("file url with a host", "(a,b);\na file://host/a.fa\nb b\n", 2, "not an absolute file:// URL"),
    ("url without a path", "(a,b);\na https://host\nb b\n", 2, "no host/bucket or no file path"),
    ("s3 url without a key", "(a,b);\na s3://bucket/\nb b\n", 2, "no host/bucket or no file path"),
]


@pytest.mark.parametrize("text,line,fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_seqfiles(text, line, fragment):
    with pytest.raises(SeqFileError) as caught:
        parse(text)
    error = caught.value
    assert fragment in error.problem, str(error)
    assert error.line == line
    message = str(error)
    assert message.startswith(f"cactus_seqfile: {SEQFILE}")
    assert (f"line {line}:" in message) == (line is not None)
    assert "Fix: " in message and error.fix
