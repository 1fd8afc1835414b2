# Parse a Cactus seqFile the way Cactus v3.2.1 does, with errors a user can act on.
#
# Cactus reads the file in `SeqFile.parseFile` (src/cactus/progressive/seqFile.py), the tree with
# sonLib's `NXNewick.parseString`, then checks the tree in `progressive_decomposition.parse_seqfile`
# (single-child nodes, multifurcations, branch lengths). This module applies the same rules before
# anything is launched, so a bad seqFile fails on the controller in a second instead of on the
# leader after the cluster is up and billing.
#
# Where Cactus is silent or lenient this parser is stricter, and says so in the message:
# - a tree leaf without a genome line: Cactus drops the leaf with a warning; here it is an error
#   (it is almost always a typo, and the alignment would silently miss a genome);
# - a line Cactus skips ("*" alone, a one-token line after the tree, a second tree): error;
# - an empty leaf name, duplicate leaf names, "~" in a local path: error.
#
# Local paths. Cactus makes a relative local path absolute against the CURRENT directory of the
# cactus process (`cactus.shared.common.makeURL` -> os.path.abspath). The project runs Ansible from
# the repository root and Cactus on the leader, so neither current directory is meaningful to the
# user: relative paths are resolved against the seqFile's own directory (the only reading that
# does not depend on where a command happens to run). `Genome.resolved` holds that absolute path;
# the step that stages genomes on the leader must write them into the leader's seqFile.

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

# Characters that end or split a name in Newick, quotes (NXNewick strips them), and "*" (the
# outgroup marker, which would never match a tree leaf).
NAME_FORBIDDEN = set("(),:;'\"*")
# Cactus (check_branch_lengths): above this a branch length is an error, above the warning cap a warning.
BRANCH_LENGTH_ERROR_CAP = 25.0
BRANCH_LENGTH_WARNING_CAP = 2.0

# Schemes Toil 9.4.1 can import from (AbstractJobStore/AWSJobStore/FileJobStore `_supports_url`).
# gs:// is Toil's too, but only with the google extra, which the project does not install.
URL_KINDS = {"http": "http", "https": "http", "s3": "s3", "ftp": "ftp", "file": "local"}


class SeqFileError(ValueError):
    """A seqFile problem: the message names the file, the line, the problem and the fix."""

    def __init__(self, path, line, problem, fix):
        self.path, self.line, self.problem, self.fix = path, line, problem, fix
        where = f"{path}: line {line}" if line else f"{path}"
        super().__init__(f"{where}: {problem}. Fix: {fix}")


@dataclass(frozen=True)
class Genome:
    name: str
    path: str  # as written in the seqFile
    kind: str  # local | http | s3 | ftp
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

    def aligned(self):
        """The genomes Cactus aligns: those named by a leaf, in leaf order."""
        by_name = {g.name: g for g in self.genomes}
        return [by_name[name] for name in self.leaves]


@dataclass
class _Node:
    name: str
    length: float | None
    children: list = field(default_factory=list)


def parse_seqfile(path):
    """Read and check the seqFile at `path`; raise SeqFileError on the first problem."""
    if not os.path.isfile(path):
        raise SeqFileError(path, None, "file not found", "give the path of an existing seqFile")
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    return parse_seqfile_text(text, path)


def parse_seqfile_text(text, path="<seqFile>"):
    """Parse seqFile `text`; `path` names the file in messages and anchors relative genome paths."""
    base_dir = os.path.dirname(os.path.abspath(path))
    tree_line, tree_text, genomes = None, None, []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        # Cactus's rule: the first line that starts with "(" or is a single token is the tree.
        if tree_text is None and (len(tokens) == 1 or line.startswith("(")):
            tree_line, tree_text = number, line
            continue
        _check_not_skipped_line(path, number, line, tokens)
        genomes.append(_parse_genome_line(path, number, tokens, base_dir))
    _check_unique_names(path, genomes)
    if not genomes:
        raise SeqFileError(path, None, "no genome lines", "add one 'name path' line per genome")
    warnings = []
    if tree_text is None:
        leaves = _leaves_without_tree(path, genomes)
    else:
        root = _parse_newick(path, tree_line, tree_text)
        leaves = _check_tree(path, tree_line, root, warnings)
        _check_leaves_have_genomes(path, tree_line, leaves, genomes)
        warnings += _unused_genome_warnings(leaves, genomes)
    return SeqFile(path, tree_text, tuple(genomes), tuple(leaves), tuple(warnings))


def _check_not_skipped_line(path, number, line, tokens):
    """Lines Cactus skips with a message on stderr are user mistakes: stop on them."""
    if line.startswith("("):
        raise SeqFileError(path, number, "a second tree line (Cactus would ignore it)",
                           "keep one Newick tree, on one line")
    if tokens[0] == "*":
        raise SeqFileError(path, number, "'*' stands alone (Cactus would skip this genome)",
                           "write the outgroup marker against the name: '*name path'")
    if len(tokens) < 2:
        raise SeqFileError(path, number, f"genome line '{line}' has no path",
                           "write 'name path' (separated by spaces or tabs)")


def _parse_genome_line(path, number, tokens, base_dir):
    name, outgroup = tokens[0], tokens[0].startswith("*")
    if outgroup:
        name = name[1:]
    _check_name(path, number, name)
    # Cactus joins the remaining tokens with one space: a path is "the rest of the line".
    genome_path = " ".join(tokens[1:])
    kind, resolved = classify_path(path, number, genome_path, base_dir)
    return Genome(name, genome_path, kind, outgroup, number, resolved)


def _check_name(path, number, name):
    bad = sorted(NAME_FORBIDDEN.intersection(name))
    if bad:
        raise SeqFileError(path, number, f"genome name '{name}' contains {''.join(bad)!r}",
                           "use letters, digits, '_', '-' or '.' in genome names; "
                           "'(),:;' and quotes are Newick syntax, '*' only marks an outgroup")


def classify_path(seqfile, number, genome_path, base_dir):
    """Return (kind, resolved) for a genome path, as Cactus's makeURL would read it."""
    scheme = urlparse(genome_path).scheme.lower()
    if scheme == "":
        return "local", _resolve_local(seqfile, number, genome_path, base_dir)
    if scheme == "gs":
        raise SeqFileError(seqfile, number, f"gs:// URL '{genome_path}' needs Toil's google extra, "
                           "which this project does not install",
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
                           "expand", "write the full path")
    return os.path.normpath(os.path.join(base_dir, genome_path))


def _resolve_file_url(seqfile, number, genome_path):
    parsed = urlparse(genome_path)
    if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
        raise SeqFileError(seqfile, number, f"'{genome_path}' is not an absolute file:// URL",
                           "write file:///absolute/path or a plain path")
    return os.path.normpath(unquote(parsed.path))


def _check_url_has_location(seqfile, number, url):
    parsed = urlparse(url)
    if not parsed.netloc or parsed.path in ("", "/"):
        raise SeqFileError(seqfile, number, f"URL '{url}' has no host/bucket or no file path",
                           "write scheme://host-or-bucket/path/to/genome.fa")


def _check_unique_names(path, genomes):
    seen = {}
    for genome in genomes:
        if genome.name in seen:
            raise SeqFileError(path, genome.line, f"duplicate genome name '{genome.name}' "
                               f"(first on line {seen[genome.name]})", "give every genome a unique name")
        seen[genome.name] = genome.line


def _leaves_without_tree(path, genomes):
    """No tree: Cactus makes a star tree, which is binary only for two genomes."""
    if len(genomes) < 2:
        raise SeqFileError(path, None, "only one genome", "Cactus aligns at least two genomes")
    if len(genomes) > 2:
        raise SeqFileError(path, None, f"no tree for {len(genomes)} genomes (Cactus would make a star "
                           "tree, a node with more than two children, and reject it)",
                           "add a binary Newick tree on one line, e.g. ((a,b),c);")
    return [g.name for g in genomes]


# ---- Newick (sonLib NXNewick semantics, parsed without recursion: trees can be 600+ deep) ----

def _parse_newick(path, number, line):
    """Parse one-line Newick: whitespace outside quotes is dropped, quote characters are removed."""
    text, in_quote = [], False
    for char in line:
        if char in "'\"":
            in_quote = not in_quote
        elif in_quote or not char.isspace():
            text.append(char)
    text = "".join(text)
    if not text.endswith(";") or ";" in text[:-1]:
        raise SeqFileError(path, number, "the tree must be one Newick tree ending with ';'",
                           "write the whole tree on one line, ending with ';'")
    return _build_tree(path, number, text[:-1])


def _build_tree(path, number, text):
    """'(' opens a node, ',' and ')' end a child; a label is 'name:length' (after ')' for ancestors)."""
    root, stack, closed, label = None, [], None, []
    for char in text:
        if char == "(":
            if label or closed is not None or (root is not None and not stack):
                raise SeqFileError(path, number, f"unexpected text before '(' near '{''.join(label)}('",
                                   "put a ',' between siblings and nothing but 'name:length' after ')'")
            node = _Node("", None)
            if stack:
                stack[-1].children.append(node)
            root = root or node
            stack.append(node)
        elif char in ",)":
            if not stack:
                raise SeqFileError(path, number, f"unbalanced '{char}' in the tree", "check the brackets")
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
    length = None
    if len(parts) == 2:
        try:
            length = float(parts[1])
        except ValueError:
            raise SeqFileError(path, number, f"branch length '{parts[1]}' of '{parts[0]}' is not a number",
                               "write name:0.1") from None
    return parts[0], length


def _walk(root):
    """Every node, parents before children, leaves left to right."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def _check_tree(path, number, root, warnings):
    """Apply Cactus's tree checks; return the leaf names in tree order."""
    if root.length is not None and root.children:
        raise SeqFileError(path, number, "the root has a branch length (NXNewick then adds an implied "
                           "root with one child, which Cactus rejects)",
                           "remove the ':length' after the last ')'")
    leaves = [node.name for node in _walk(root) if not node.children]
    if len(leaves) < 2:
        raise SeqFileError(path, number, "the tree has fewer than two leaves",
                           "Cactus aligns at least two genomes: list them all in the tree")
    for node in _walk(root):
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
        raise SeqFileError(path, number, "a leaf of the tree has no name", "name every leaf")
    seen = set()
    for name in leaves:
        if name in seen:
            raise SeqFileError(path, number, f"leaf '{name}' appears twice in the tree",
                               "name every leaf once")
        seen.add(name)
    for node in _walk(root):
        if node.name and "*" in node.name:
            raise SeqFileError(path, number, f"'{node.name}' has '*' inside the tree",
                               "mark outgroups on the genome lines ('*name path'), not in the tree")
        if node.children and node.name and (node.name.isnumeric() or node.name in seen):
            warnings.append(f"ancestor name '{node.name}' is numeric or repeats a leaf: Cactus ignores it")


def _check_leaves_have_genomes(path, number, leaves, genomes):
    names = {g.name for g in genomes}
    missing = [leaf for leaf in leaves if leaf not in names]
    if missing:
        raise SeqFileError(path, number, f"tree leaves without a genome line: {', '.join(missing)} "
                           "(Cactus would drop them from the alignment)",
                           "add a 'name path' line for each, or remove them from the tree")


def _unused_genome_warnings(leaves, genomes):
    leaf_set = set(leaves)
    return [f"line {g.line}: genome '{g.name}' is not a leaf of the tree: Cactus does not align it, "
            "and the plan does not size it" for g in genomes if g.name not in leaf_set]
