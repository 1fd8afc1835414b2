# Parse a Cactus seqFile the way Cactus v3.2.1 does, with errors a user can act on.
#
# Cactus reads the file in `SeqFile.parseFile` (src/cactus/progressive/seqFile.py), the tree with
# sonLib's `NXNewick.parseString`, checks the tree in `progressive_decomposition.parse_seqfile`
# (single-child nodes, multifurcations, branch lengths) and then selects outgroups
# (`outgroup.GreedyOutgroup`), all after the job store exists. This module applies the same rules
# before anything is launched, so a bad seqFile fails on the controller in a second instead of on
# the leader after the cluster is up and billing. tests/unit/data/seqfiles/ holds the outcome
# Cactus's own code gave on a corpus of files, and the test that holds this parser to it.
#
# Cactus's reading, rule by rule:
# - The file is UTF-8 text (undecodable bytes stop Cactus); lines end at \n, \r or \r\n only; each
#   line is stripped of (Unicode) whitespace; blank lines and lines starting with "#" are skipped.
# - The first line that starts with "(" or is a single token is the Newick tree. Newick: ASCII
#   whitespace outside quotes is dropped, quote characters are removed, "name:length" labels, an
#   empty length means none (Cactus uses 1.0).
# - Genome lines: "name path", split on any whitespace; "*name" marks an outgroup candidate; the path
#   is the rest of the line joined by single spaces; a name twice is an error.
# - Every leaf needs a genome line ("No sequence specified for X"). An internal node named in the
#   tree is an ancestor: a genome line for it is imported and used as that ancestor's sequence.
#   A numeric ancestor name is dropped. Genome lines named nowhere in the tree are ignored.
# - Multifurcations, single-child nodes (also a root with a length) and lengths over 25 are errors;
#   a negative length makes outgroup selection fail.
#
# Where Cactus is lenient this parser is deliberately stricter (each message says what Cactus would
# do and why this tool refuses): lines Cactus skips ("*" alone, a one-token line after the tree, a
# second tree); leaves or ancestors named twice or an ancestor named like a leaf (the outcome depends
# on the order of the tree); text Cactus's lenient Newick reader folds into a name (";" inside the
# tree, text around brackets, a sibling of the root); Newick characters or "*" in genome names;
# non-ASCII whitespace in the tree line; NaN lengths; genome lines named like Cactus's generated
# ancestor names (Anc0, ...); a byte-order mark; "~" in a local path; trees deeper than
# MAX_TREE_DEPTH.
#
# Local paths. Cactus makes a relative local path absolute against the CURRENT directory of the
# cactus process (`cactus.shared.common.makeURL` -> os.path.abspath). The project runs Ansible from
# the repository root and Cactus on the leader, so neither current directory is meaningful to the
# user: relative paths are resolved against the seqFile's own directory (the only reading that
# does not depend on where a command happens to run). `Genome.resolved` holds that absolute path;
# the step that stages genomes on the leader must write them into the leader's seqFile.

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from ansible_collections.genomics.cactus.plugins.module_utils.toil_rules import CactusError

# Characters that end or split a name in Newick, quotes (NXNewick strips them), and "*" (the
# outgroup marker, which would never match a tree leaf).
NAME_FORBIDDEN = set("(),:;'\"*")
# Cactus (check_branch_lengths): above this a branch length is an error, above the warning cap a warning.
BRANCH_LENGTH_ERROR_CAP = 25.0
BRANCH_LENGTH_WARNING_CAP = 2.0
# NXNewick drops only these (string.whitespace); any other whitespace stays in names and lengths.
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
# Cactus's lines: Python's text mode ends a line at \n, \r or \r\n only (not str.splitlines()).
LINE_END = re.compile(r"\r\n|\r|\n")
# Cactus reads the tree and walks it recursively (NXNewick, NXTree traversals, outgroup selection).
# Run on Python's default recursion limit (1000), Cactus v3.2.1's own code read a tree 984 levels
# deep and failed at 985, in SeqFile itself, after the job store exists (tests/unit/data/seqfiles/
# README.md). The cap leaves room for the deeper call stacks of Cactus's jobs, which walk the tree.
MAX_TREE_DEPTH = 900
# MultiCactusTree names unnamed ancestors with this prefix and a number.
GENERATED_ANCESTOR = re.compile(r"Anc[0-9]+")
STRICTER = "this tool refuses it because it is almost always a typo that changes the alignment"

# Schemes Toil 9.4.1 can import from (AbstractJobStore/AWSJobStore/FileJobStore `_supports_url`).
# gs:// is Toil's too, but only with the google extra, which the project does not install.
URL_KINDS = {"http": "http", "https": "http", "s3": "s3", "ftp": "ftp", "file": "local"}


class SeqFileError(CactusError):
    """A seqFile problem (the one error type, variable cactus_seqfile): the message names the file,
    the line, the problem and the fix."""

    def __init__(self, path, line, problem, fix):
        where = f"{path}: line {line}" if line else f"{path}"
        super().__init__("cactus_seqfile", f"{where}: {problem}", fix)
        self.path, self.line, self.problem = path, line, problem


@dataclass(frozen=True)
class Genome:
    name: str
    path: str  # as written in the seqFile
    kind: str  # local | http | s3 | ftp; "unused" for a line Cactus ignores (not checked)
    outgroup: bool  # marked with "*": may be used as an outgroup
    line: int
    resolved: str  # local: absolute path on the controller; URL: the URL itself


@dataclass(frozen=True)
class SeqFile:
    path: str
    tree: str | None  # the Newick line as written, None when the file has none
    genomes: tuple[Genome, ...]  # every genome line, in file order
    leaves: tuple[str, ...]  # leaf names in tree order (file order for a tree-less file)
    warnings: tuple[str, ...] = field(default=())
    ancestors: tuple[str, ...] = field(default=())  # ancestors with a genome line, in tree order

    def aligned(self):
        """The leaf genomes, in leaf order."""
        by_name = {g.name: g for g in self.genomes}
        return [by_name[name] for name in self.leaves]

    def imported(self):
        """Every genome Cactus imports: the leaves, then the ancestors that have a genome line."""
        by_name = {g.name: g for g in self.genomes}
        return [by_name[name] for name in (*self.leaves, *self.ancestors)]


@dataclass
class _Node:
    name: str
    length: float | None
    children: list = field(default_factory=list)


def parse_seqfile(path):
    """Read and check the seqFile at `path`; raise SeqFileError on the first problem."""
    if not os.path.isfile(path):
        raise SeqFileError(path, None, "file not found", "give the path of an existing seqFile")
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = len(LINE_END.findall(data[:error.start].decode("utf-8"))) + 1
        raise SeqFileError(path, line, f"byte 0x{data[error.start]:02x} is not UTF-8 (Cactus reads the "
                           "seqFile as UTF-8 and stops on it)", "save the file as UTF-8") from None
    return parse_seqfile_text(text, path)


def parse_seqfile_text(text, path="<seqFile>"):
    """Parse seqFile `text`; `path` names the file in messages and anchors relative genome paths."""
    if text.startswith("\ufeff"):
        raise SeqFileError(path, 1, "the file starts with a byte-order mark (U+FEFF): Cactus reads it as "
                           f"part of the first line's first word; {STRICTER}", "save it as UTF-8 without BOM")
    base_dir = os.path.dirname(os.path.abspath(path))
    tree_line, tree_text, lines = None, None, []
    for number, raw in enumerate(LINE_END.split(text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        # Cactus's rule: the first line that starts with "(" or is a single token is the tree.
        if tree_text is None and (len(tokens) == 1 or line.startswith("(")):
            tree_line, tree_text = number, line
            continue
        _check_not_skipped_line(path, number, line, tokens)
        lines.append((number, tokens))
    names = _check_unique_names(path, lines)
    if not lines:
        raise SeqFileError(path, None, "no genome lines", "add one 'name path' line per genome")
    warnings, ancestors = [], []
    if tree_text is None:
        leaves = _leaves_without_tree(path, names)
        tree_names = set(leaves)
    else:
        root = _parse_newick(path, tree_line, tree_text)
        leaves = _check_tree(path, tree_line, root, warnings)
        _check_leaves_have_genomes(path, tree_line, leaves, names)
        named = _named_ancestors(root)
        ancestors = [name for name in named if name in names]
        tree_names = {node.name for node, _ in _walk(root)}
    imported = set(leaves) | set(ancestors)
    genomes = [_genome(path, number, tokens, base_dir, imported) for number, tokens in lines]
    warnings += _unused_genome_warnings(path, genomes, tree_names)
    return SeqFile(path, tree_text, tuple(genomes), tuple(leaves), tuple(warnings), tuple(ancestors))


def _check_not_skipped_line(path, number, line, tokens):
    """Lines Cactus skips with a message on stderr are user mistakes: stop on them."""
    skipped = "Cactus would skip this line and run without it"
    if line.startswith("("):
        raise SeqFileError(path, number, f"a second tree line ({skipped}; one tree is meant)",
                           "keep one Newick tree, on one line")
    if tokens[0] == "*":
        raise SeqFileError(path, number, f"'*' stands alone ({skipped}, leaving the genome out)",
                           "write the outgroup marker against the name: '*name path'")
    if len(tokens) < 2:
        raise SeqFileError(path, number, f"genome line '{line}' has no path ({skipped})",
                           "write 'name path' (separated by spaces or tabs)")


def _genome_name(tokens):
    return (tokens[0][1:], True) if tokens[0].startswith("*") else (tokens[0], False)


def _genome(path, number, tokens, base_dir, imported):
    """A Genome; only one Cactus imports is checked (Cactus ignores the others)."""
    name, outgroup = _genome_name(tokens)
    # Cactus joins the remaining tokens with one space: a path is "the rest of the line".
    genome_path = " ".join(tokens[1:])
    if name not in imported:
        return Genome(name, genome_path, "unused", outgroup, number, genome_path)
    _check_name(path, number, name)
    kind, resolved = classify_path(path, number, genome_path, base_dir)
    return Genome(name, genome_path, kind, outgroup, number, resolved)


def _check_name(path, number, name):
    bad = sorted(NAME_FORBIDDEN.intersection(name))
    if bad:
        raise SeqFileError(path, number, f"genome name '{name}' contains {''.join(bad)!r} (Cactus's seqFile "
                           "reader would take it, but Cactus hands the tree on to its jobs as Newick, where "
                           "'(),:;' and quotes are syntax; '*' only marks an outgroup)",
                           "use letters, digits, '_', '-' or '.' in genome names")


def classify_path(seqfile, number, genome_path, base_dir):
    """Return (kind, resolved) for a genome path, as Cactus's makeURL would read it."""
    scheme = urlparse(genome_path).scheme.lower()
    if scheme == "":
        return "local", _resolve_local(seqfile, number, genome_path, base_dir)
    if scheme == "gs":
        raise SeqFileError(seqfile, number, f"gs:// URL '{genome_path}' needs Toil's google extra, "
                           "which this project does not install (Cactus would stop when importing it)",
                           "copy the file to s3:// (or an https:// URL) and use that")
    if scheme not in URL_KINDS:
        raise SeqFileError(seqfile, number, f"'{genome_path}' has scheme '{scheme}:', which Toil "
                           "cannot import (Cactus reads any 'word:' prefix as a URL scheme)",
                           "use a local path, http(s)://, s3:// or ftp://; "
                           "write './' before a local path that contains ':'")
    if scheme == "file":
        return "local", _resolve_file_url(seqfile, number, genome_path)
    _check_url_has_location(seqfile, number, genome_path)
    return URL_KINDS[scheme], genome_path


def _resolve_local(seqfile, number, genome_path, base_dir):
    if genome_path.startswith("~"):
        raise SeqFileError(seqfile, number, f"'{genome_path}' starts with '~', which Cactus does not "
                           "expand (it would look for a folder named '~' in its current directory)",
                           "write the full path")
    return os.path.normpath(os.path.join(base_dir, genome_path))


def _resolve_file_url(seqfile, number, genome_path):
    parsed = urlparse(genome_path)
    if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
        raise SeqFileError(seqfile, number, f"'{genome_path}' is not an absolute file:// URL "
                           "(Cactus would stop when importing it)",
                           "write file:///absolute/path or a plain path")
    return os.path.normpath(unquote(parsed.path))


def _check_url_has_location(seqfile, number, url):
    parsed = urlparse(url)
    if not parsed.netloc or parsed.path in ("", "/"):
        raise SeqFileError(seqfile, number, f"URL '{url}' has no host/bucket or no file path (Cactus would "
                           "stop when importing it)",
                           "write scheme://host-or-bucket/path/to/genome.fa")


def _check_unique_names(path, lines):
    """Cactus stops on a name given twice; return {name: line}."""
    seen = {}
    for number, tokens in lines:
        name = _genome_name(tokens)[0]
        if name in seen:
            raise SeqFileError(path, number, f"duplicate genome name '{name}' "
                               f"(first on line {seen[name]})", "give every genome a unique name")
        seen[name] = number
    return seen


def _leaves_without_tree(path, names):
    """No tree: Cactus makes a star tree, which is binary only for two genomes."""
    if len(names) < 2:
        raise SeqFileError(path, None, "only one genome", "Cactus aligns at least two genomes")
    if len(names) > 2:
        raise SeqFileError(path, None, f"no tree for {len(names)} genomes (Cactus would make a star "
                           "tree, a node with more than two children, and reject it)",
                           "add a binary Newick tree on one line, e.g. ((a,b),c);")
    return list(names)


# ---- Newick (sonLib NXNewick semantics, parsed without recursion) ---------------------------------

def _parse_newick(path, number, line):
    """Parse one-line Newick: ASCII whitespace outside quotes is dropped, quote characters are removed."""
    odd = next((c for c in line if c.isspace() and c not in ASCII_WHITESPACE), None)
    if odd is not None:
        raise SeqFileError(path, number, f"the tree contains the non-ASCII whitespace U+{ord(odd):04X}: "
                           "Cactus removes only ASCII whitespace, so it stays inside a name or length (a "
                           "leaf so named has no genome line and Cactus stops after the job store exists; "
                           f"in an ancestor name or a length Cactus would keep it, but {STRICTER})",
                           "replace it with a plain space, or delete it")
    text, in_quote = [], False
    for char in line:
        if char in "'\"":
            in_quote = not in_quote
        elif in_quote or char not in ASCII_WHITESPACE:
            text.append(char)
    text = "".join(text)
    if not text.endswith(";"):
        raise SeqFileError(path, number, "the tree must be one Newick tree ending with ';'",
                           "write the whole tree on one line, ending with ';'")
    if ";" in text[:-1]:
        raise SeqFileError(path, number, "';' inside the tree (Cactus's Newick reader would keep it and "
                           f"what follows as part of a name; {STRICTER})",
                           "write one Newick tree on one line, with a single ';' at its end")
    return _build_tree(path, number, text[:-1])


def _folded(what):
    """Malformed Newick that Cactus's lenient reader folds into a node name."""
    return f"{what} (Cactus's Newick reader would read it as part of a node's name; {STRICTER})"


def _build_tree(path, number, text):
    """'(' opens a node, ',' and ')' end a child; a label is 'name:length' (after ')' for ancestors)."""
    root, stack, closed, label = None, [], None, []
    for char in text:
        if char == "(":
            if label or closed is not None or (root is not None and not stack):
                raise SeqFileError(path, number, _folded(f"text next to '(' near '{''.join(label)}('"),
                                   "put a ',' between siblings and nothing but 'name:length' after ')'")
            node = _Node("", None)
            if stack:
                stack[-1].children.append(node)
            root = root or node
            stack.append(node)
        elif char in ",)":
            if not stack:
                if char == ",":
                    raise SeqFileError(path, number, _folded("a ',' after the root's ')'"),
                                       "put every genome inside the outer brackets")
                raise SeqFileError(path, number, "unbalanced ')' in the tree", "check the brackets")
            _finish_child(path, number, stack[-1], closed, "".join(label))
            closed, label = (stack.pop() if char == ")" else None), []
        else:
            label.append(char)
    if stack:
        raise SeqFileError(path, number, "unbalanced '(' in the tree", "check the brackets")
    if root is None:  # a bare label: a one-node tree
        return _Node(*_parse_label(path, number, "".join(label)))
    _finish_child(path, number, None, closed, "".join(label))
    return root


def _finish_child(path, number, parent, closed, label):
    """Give the child that just ended its label: a closed ancestor, or a new leaf of `parent`."""
    name, length = _parse_label(path, number, label)
    if closed is not None:
        closed.name, closed.length = name, length
    else:
        parent.children.append(_Node(name, length))


def _parse_label(path, number, label):
    parts = label.split(":")
    if len(parts) > 2:
        raise SeqFileError(path, number, f"'{label}' has more than one ':'", "write name:length")
    if len(parts) == 1 or parts[1] == "":  # "name:" has no length, as in NXNewick
        return parts[0], None
    try:
        length = float(parts[1])
    except ValueError:
        raise SeqFileError(path, number, f"branch length '{parts[1]}' of '{parts[0]}' is not a number",
                           "write name:0.1") from None
    if math.isnan(length):
        raise SeqFileError(path, number, f"branch length of '{parts[0]}' is NaN (Cactus would take it; "
                           "its outgroup and ancestor computations are meaningless on it)",
                           "give a number of substitutions per site, e.g. name:0.1")
    if length < 0:
        raise SeqFileError(path, number, f"branch length {parts[1]} of '{parts[0]}' is negative (Cactus's "
                           "outgroup selection fails on it, after the job store exists)",
                           "give non-negative lengths; a neighbour-joining tree's negative lengths are "
                           "usually set to 0")
    return parts[0], length


def _walk(root):
    """Every node with its depth, parents before children, leaves left to right."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        yield node, depth
        stack.extend((child, depth + 1) for child in reversed(node.children))


def _named_ancestors(root):
    """Ancestor names Cactus keeps: numeric ones are dropped (duplicates are refused before)."""
    return [node.name for node, _ in _walk(root)
            if node.children and node.name and not node.name.isnumeric()]


def _check_tree(path, number, root, warnings):
    """Apply Cactus's tree checks; return the leaf names in tree order."""
    if root.length is not None and root.children:
        raise SeqFileError(path, number, "the root has a branch length (NXNewick then adds an implied "
                           "root with one child, which Cactus rejects)",
                           "remove the ':length' after the last ')'")
    leaves = [node.name for node, _ in _walk(root) if not node.children]
    if len(leaves) < 2:
        raise SeqFileError(path, number, "the tree has fewer than two leaves",
                           "Cactus aligns at least two genomes: list them all in the tree")
    depth = max(d for _, d in _walk(root))
    if depth > MAX_TREE_DEPTH:
        raise SeqFileError(path, number, f"the tree is {depth} levels deep, over this tool's limit of "
                           f"{MAX_TREE_DEPTH} (Cactus reads trees recursively: on Python's default recursion "
                           "limit it fails at 985 levels, after the job store exists; this tool keeps room "
                           "for the deeper call stacks of Cactus's jobs)",
                           "a tree this deep is almost always a chain: check it, or split the run")
    for node, _ in _walk(root):
        _check_tree_node(path, number, node, warnings)
    _check_tree_names(path, number, root, leaves, warnings)
    return leaves


def _check_tree_node(path, number, node, warnings):
    label = node.name or "(unnamed)"
    if len(node.children) == 1:
        raise SeqFileError(path, number, f"node {label} has a single child (Cactus rejects it)",
                           "remove the extra pair of brackets around that child")
    if len(node.children) > 2:
        kids = ", ".join(c.name or "(unnamed)" for c in node.children)
        raise SeqFileError(path, number, f"node {label} has {len(node.children)} children ({kids}); "
                           "Cactus needs a binary tree", "resolve the multifurcation into pairs, "
                           "e.g. (a,b,c) -> ((a,b),c)")
    for child in node.children:
        _check_branch_length(path, number, node, child, warnings)


def _check_branch_length(path, number, parent, child, warnings):
    length = child.length or 0.0
    between = f"{parent.name or '(unnamed)'} and {child.name or '(unnamed)'}"
    if length > BRANCH_LENGTH_ERROR_CAP:
        raise SeqFileError(path, number, f"branch length {length} between {between} is over "
                           f"{BRANCH_LENGTH_ERROR_CAP} (Cactus rejects it)",
                           "branch lengths are substitutions per neutral site, usually below 1")
    if length > BRANCH_LENGTH_WARNING_CAP:
        warnings.append(f"long branch length {length} between {between}: Cactus warns that branch "
                        "lengths should be substitutions per site")


def _check_tree_names(path, number, root, leaves, warnings):
    if "" in leaves:
        raise SeqFileError(path, number, "a leaf of the tree has no name (Cactus stops: 'No sequence "
                           "specified for ')", "name every leaf")
    seen = set()
    for name in leaves:
        if name in seen:
            raise SeqFileError(path, number, f"leaf '{name}' appears twice in the tree (Cactus would keep "
                               f"both nodes, one genome in two places; {STRICTER})", "name every leaf once")
        seen.add(name)
    for node, _ in _walk(root):
        if node.name and "*" in node.name:
            raise SeqFileError(path, number, f"'{node.name}' has '*' inside the tree (Cactus would match it "
                               f"only to a genome line written '*{node.name}'; {STRICTER})",
                               "mark outgroups on the genome lines ('*name path'), not in the tree")
    for node, _ in _walk(root):
        if not node.children or not node.name:
            continue
        if node.name.isnumeric():
            warnings.append(f"ancestor name '{node.name}' is numeric: Cactus ignores it (a support value?) "
                            "and names the ancestor itself")
        elif node.name in seen:
            raise SeqFileError(path, number, f"ancestor '{node.name}' is named like a leaf or another "
                               "ancestor (Cactus would then keep two nodes of that name, or drop one "
                               "name, depending on the order of the tree)",
                               "give every node of the tree its own name, or leave ancestors unnamed")
        seen.add(node.name)


def _check_leaves_have_genomes(path, number, leaves, names):
    missing = [leaf for leaf in leaves if leaf not in names]
    if missing:
        raise SeqFileError(path, number, f"tree leaves without a genome line: {', '.join(missing)} "
                           f"(Cactus v3.2.1 stops with 'No sequence specified for {missing[0]}')",
                           "add a 'name path' line for each, or remove them from the tree")


def _unused_genome_warnings(path, genomes, tree_names):
    """Cactus ignores a genome line the tree does not name, unless it has a name Cactus generates."""
    warnings = []
    for genome in genomes:
        if genome.kind != "unused":
            continue
        if GENERATED_ANCESTOR.fullmatch(genome.name) and genome.name not in tree_names:
            raise SeqFileError(path, genome.line, f"genome '{genome.name}' is not in the tree, but Cactus "
                               "names unnamed ancestors Anc0, Anc1, ...: it may import this line as an "
                               f"ancestor's sequence, or ignore it; {STRICTER}",
                               "name that ancestor in the tree, or rename or remove the line")
        where = "names a numeric ancestor, whose name Cactus drops" if genome.name in tree_names else \
            "is not in the tree"
        warnings.append(f"line {genome.line}: genome '{genome.name}' {where}: Cactus does not import it, "
                        "and the plan neither sizes nor transfers it")
    return warnings
