"""seqFile reading for the Cactus TEST STAND-IN.

Follows Cactus v3.2.1 (`progressive/seqFile.py` SeqFile.parseFile and the checks in
`progressive/progressive_decomposition.py`), with the same error messages, so the project's own
seqFile checks can be compared against "what Cactus would do". Kept self-contained on purpose.
"""

import logging
import os
import sys
from dataclasses import dataclass, field

logger = logging.getLogger("toil.cactus_standin")  # under "toil": Toil silences other loggers

DEFAULT_BRANCH_LEN = 1.0  # SeqFile's default; the real config can set another
BRANCH_LEN_ERROR_CAP = 25.0  # check_branch_lengths
NEWICK_SPECIAL = set("(),:;")
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"  # NXNewick drops only these (string.whitespace)


@dataclass
class Node:
    name: str | None = None
    length: float | None = None
    children: list["Node"] = field(default_factory=list)

    def is_leaf(self) -> bool:
        return not self.children

    def postorder(self):
        for child in self.children:
            yield from child.postorder()
        yield self

    def breadth_first(self):
        queue = [self]
        while queue:
            node = queue.pop(0)
            yield node
            queue.extend(node.children)


def parse_newick(text: str) -> Node:
    """Parse a one-line Newick tree; raise ValueError when it is not one."""
    # As NXNewick: ASCII whitespace outside quotes is dropped, quote characters are removed.
    kept, in_quote = [], False
    for char in text:
        if char in "'\"":
            in_quote = not in_quote
        elif in_quote or char not in ASCII_WHITESPACE:
            kept.append(char)
    text = "".join(kept)
    if text.endswith(";"):
        text = text[:-1]
    pos = 0

    def label() -> str:
        nonlocal pos
        start = pos
        while pos < len(text) and text[pos] not in NEWICK_SPECIAL:
            pos += 1
        return text[start:pos]

    def subtree() -> Node:
        nonlocal pos
        node = Node()
        if pos < len(text) and text[pos] == "(":
            pos += 1
            node.children.append(subtree())
            while pos < len(text) and text[pos] == ",":
                pos += 1
                node.children.append(subtree())
            if pos >= len(text) or text[pos] != ")":
                raise ValueError("missing ')'")
            pos += 1
        node.name = label() or None
        if pos < len(text) and text[pos] == ":":
            pos += 1
            length = label()
            node.length = float(length) if length else None  # "name:" has no length
        return node

    root = subtree()
    if pos != len(text):
        raise ValueError(f"unexpected {text[pos:]!r}")
    return root


def write_newick(node: Node) -> str:
    def write(n: Node) -> str:
        out = ""
        if n.children:
            out = "(" + ",".join(write(c) for c in n.children) + ")"
        out += n.name or ""
        if n.length is not None:
            out += f":{n.length!r}"
        return out

    return write(node) + ";"


@dataclass
class SeqFile:
    tree: Node
    paths: dict[str, str]  # genome name -> path or URL, in file order
    outgroups: list[str]  # names marked with '*'

    @property
    def imported(self) -> dict[str, str]:
        """The genomes Cactus imports: those the tree names (leaves and ancestors)."""
        names = {node.name for node in self.tree.postorder()}
        return {name: path for name, path in self.paths.items() if name in names}

    @property
    def root_name(self) -> str:
        return self.tree.name


def parse_seqfile(path: str, root_name: str | None = None) -> SeqFile:
    """Read a seqFile as Cactus does; raise RuntimeError with Cactus's messages."""
    if not os.path.isfile(path):
        raise RuntimeError(f"File not found: {path}")
    tree = None
    paths: dict[str, str] = {}
    outgroups: list[str] = []
    with open(path, encoding="utf-8") as seq_file:  # strict, as on a UTF-8 leader
        for raw in seq_file:
            line = raw.strip()
            if not line or line[0] == "#":
                continue
            tokens = line.split()
            # The first line that starts with '(' or is a single token is the tree.
            if tree is None and (len(tokens) == 1 or line[0] == "("):
                try:
                    tree = parse_newick(line)
                except ValueError as err:
                    raise RuntimeError(f"Failed to parse newick tree: {line}") from err
            elif tokens[0] == "*":
                sys.stderr.write(f"Skipping line {raw}\n")
            elif line[0] != "(" and len(tokens) >= 2:
                name = tokens[0]
                if name[0] == "*":
                    name = name[1:]
                    outgroups.append(name)
                if name in paths:
                    raise RuntimeError(f"Duplicate name found: {name}")
                paths[name] = " ".join(tokens[1:])
            else:
                sys.stderr.write(f"Skipping line {raw}\n")

    if tree is None:  # no tree: a star tree over all genomes
        tree = Node(children=[Node(name=n, length=DEFAULT_BRANCH_LEN) for n in paths])
    _clean_and_validate(tree, paths, root_name)
    return SeqFile(tree, paths, outgroups)


def _clean_and_validate(tree: Node, paths: dict[str, str], root_name: str | None) -> None:
    leaves = [n for n in tree.postorder() if n.is_leaf()]
    if len(leaves) < 2:
        raise RuntimeError("At least two valid leaf genomes required in input tree")
    # Cactus drops leaves without sequence only outside --root's subtree; by default that is none.
    keep = tree
    if root_name:
        keep = next((n for n in tree.breadth_first() if n.name == root_name), tree)
    kept = set(map(id, keep.postorder()))
    missing = [n for n in leaves if n.name not in paths and id(n) not in kept]
    if len(missing) == len(leaves):
        raise RuntimeError("No sequence path specified for any leaves in the tree")
    for leaf in missing:
        logger.warning("No sequence path found for species %s: removing from tree", leaf.name)
        _remove_leaf(tree, leaf)
    for node in tree.postorder():
        if node is not tree and node.length is None:
            node.length = DEFAULT_BRANCH_LEN

    ancestor_names: set[str] = set()  # as Cactus: the names seen so far, leaves and ancestors
    for node in tree.postorder():
        if node.is_leaf():
            if node.name not in paths:
                raise RuntimeError(f"No sequence specified for {node.name}")
            ancestor_names.add(node.name)
        elif node.name:
            if node.name.isnumeric() or node.name in ancestor_names:
                sys.stderr.write(f"WARNING: ignoring numeric or duplicate ancestor name {node.name}\n")
                node.name = None
            else:
                ancestor_names.add(node.name)
    # MultiCactusTree names unlabelled ancestors Anc0, Anc1, ... breadth first.
    counter = 0
    for node in tree.breadth_first():
        if not node.is_leaf() and not node.name:
            while f"Anc{counter}" in ancestor_names or f"Anc{counter}" in paths:
                counter += 1
            node.name = f"Anc{counter}"
            counter += 1

    text = write_newick(tree)
    for node in tree.postorder():
        if len(node.children) == 1:
            raise RuntimeError(
                f'Error parsing tree "{text}":\n Node {node.name} (parent of {node.children[0].name}) has '
                "single descendant: Please remove all such nodes and try again."
            )
        if len(node.children) > 2:
            raise RuntimeError(
                f'Error parsing tree "{text}":\n Node {node.name} has more than two children: '
                f"{[c.name for c in node.children]}. Such nodes have been shown to drastically drop "
                "coverage in recent versions of Cactus. For best results, binarize your tree and try "
                'again. You can override this check by toggling "allow_multifurcations" to "1" in the '
                "configuration XML"
            )
        for child in node.children:
            if child.length is not None and child.length > BRANCH_LEN_ERROR_CAP:
                raise RuntimeError(
                    f"Branch length of {child.length} between {node.name} and {child.name} is too long. "
                    "Branch lengths of input tree must reflect expected substitutions per (neutral) site "
                    f"and not exceed {BRANCH_LEN_ERROR_CAP}"
                )
    if root_name:
        node = next((n for n in tree.breadth_first() if n.name == root_name), None)
        if node is None:
            raise RuntimeError(f'Genome specified with --root, "{root_name}", not found in tree')
        if node.is_leaf():
            raise RuntimeError(
                f'Genome specified with --root, "{root_name}", is a leaf.  Only internal nodes can be '
                "used as the root"
            )


def _remove_leaf(tree: Node, leaf: Node) -> None:
    for node in tree.postorder():
        if leaf in node.children:
            node.children.remove(leaf)
            return
