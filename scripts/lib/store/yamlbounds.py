"""The bounds of one YAML document (docs/security.md, "YAML bounds"), and the errors of reading one.

`Limits` says what a document may hold: its size, its nesting, the nodes aliases may add, the
digits of an integer. `check_size` refuses a document over the size cap before it is parsed;
`vet` checks the composed node graph before any value is built, so aliases that would expand
past the cap ("billion laughs"), nesting past the depth cap and aliases inside their own anchor
are refused in time linear in the document. lib/store/yamlio.py reads YAML within them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import yaml


class YAMLLoadError(ValueError):
    """YAML that cannot be parsed, or uses a tag we refuse; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class YAMLTooLarge(YAMLLoadError):
    """A document over the size cap, refused before parsing."""


MAX_BYTES_ENV = "BATON_MAX_FRONTMATTER_BYTES"


@dataclass(frozen=True)
class Limits:
    """What one YAML document may hold; the defaults are documented in docs/security.md."""

    # UTF-8 bytes of the document (a note's frontmatter, a settings file)
    max_bytes: int = 1 << 20
    # nesting of mappings and sequences, aliases followed (a note nests three or four deep)
    max_depth: int = 64
    # nodes that aliases and merge keys may add to the document once expanded
    max_alias_nodes: int = 10_000
    # decimal digits of an integer: Python's own int-str conversion limit
    max_int_digits: int = 4300


def limits() -> Limits:
    """The limits in force: the defaults, with the size cap from BATON_MAX_FRONTMATTER_BYTES when set."""
    raw = os.environ.get(MAX_BYTES_ENV)
    if not raw:
        return DEFAULT_LIMITS
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_LIMITS
    return Limits(max_bytes=value) if value > 0 else DEFAULT_LIMITS


DEFAULT_LIMITS = Limits()


def _size_label(size: int) -> str:
    if size % (1 << 20) == 0:
        return f"{size >> 20} MiB"
    if size % 1024 == 0:
        return f"{size >> 10} KiB"
    return f"{size} bytes"


def check_size(text: str, bounds: Limits | None = None) -> None:
    """Refuse a document over the size cap (before any parsing)."""
    cap = (bounds or limits()).max_bytes
    # characters <= UTF-8 bytes <= 4 x characters: encode only when it can matter
    if len(text) > cap or (len(text) * 4 > cap and len(text.encode("utf-8", "surrogatepass")) > cap):
        raise YAMLTooLarge(too_large(cap))


def too_large(cap: int) -> str:
    return f"larger than the {_size_label(cap)} limit ({MAX_BYTES_ENV})"


def _vet_tree(root: yaml.Node, max_depth: int, shared_possible: bool) -> bool:
    """Check the depth level by level; False (stop) at the first collection reached twice.

    In a tree (no alias to a collection, the usual note) this is the whole check, at a
    fraction of the cost of the memoised one; a shared collection means aliases, which
    `vet` then checks properly.
    """
    level, depth = [root], 1
    seen: set[int] = {id(root)}
    scalar, mapping = yaml.ScalarNode, yaml.MappingNode
    while level:
        below: list[yaml.Node] = []
        for node in level:
            if node.__class__ is mapping:
                for key_node, value_node in node.value:
                    if key_node.__class__ is not scalar:
                        below.append(key_node)
                    if value_node.__class__ is not scalar:
                        below.append(value_node)
            elif node.__class__ is not scalar:
                below.extend(item for item in node.value if item.__class__ is not scalar)
        if below:
            if shared_possible:
                before = len(seen)
                seen.update(map(id, below))
                if len(seen) - before < len(below):
                    return False
            depth += 1
            if depth > max_depth:
                raise YAMLLoadError(f"nested deeper than the limit of {max_depth} levels",
                                    below[0].start_mark.line + 1)
        level = below
    return True


def _children(node: yaml.Node) -> list[yaml.Node]:
    if node.__class__ is yaml.MappingNode:
        return [part for pair in node.value for part in pair]
    if node.__class__ is yaml.SequenceNode:
        return list(node.value)
    return []


def vet(root: yaml.Node, bounds: Limits | None = None, aliases: bool = True) -> None:
    """Refuse a composed node graph too deep, expanding too far through aliases, or cyclic.

    An alias is the anchored node itself, shared: the graph stays as small as the text,
    while the values built from it repeat each shared node once per path to it. Sizes and
    depths are counted per node once (memoised), so a document that would expand to
    billions of values is refused in time linear in its text. Iterative: no recursion
    limit to hit. A graph in which no collection is reached twice (always so when the text
    has no `*`: `aliases=False`) is a tree, and only its depth needs checking.
    """
    bounds = bounds or limits()
    if _vet_tree(root, bounds.max_depth, aliases):
        return
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    composed = 0
    while stack:
        node, closing = stack.pop()
        key = id(node)
        if closing:
            open_nodes.discard(key)
            total, deepest = 1, 0
            for child in _children(node):
                total += size[id(child)]
                deepest = max(deepest, height[id(child)])
            # a scalar is no level; a collection is one more than its deepest child
            level = 0 if node.__class__ is yaml.ScalarNode else deepest + 1
            size[key], height[key] = total, level
            if level > bounds.max_depth:
                raise YAMLLoadError(f"nested deeper than the limit of {bounds.max_depth} levels",
                                    node.start_mark.line + 1)
            continue
        if key in size:
            continue  # a shared node (an alias), counted already
        if key in open_nodes:
            # `a: &x [1, *x]` is valid YAML for a list that contains itself: no JSON, hash or
            # schema check can take it, so it is refused like a malformed document.
            raise YAMLLoadError("an alias refers to a node that contains it", node.start_mark.line + 1)
        composed += 1
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(_children(node)))
    if size[id(root)] - composed > bounds.max_alias_nodes:
        raise YAMLLoadError(
            f"aliases expand to more than the limit of {bounds.max_alias_nodes} nodes "
            "(nested aliases, as in a \"billion laughs\" document)"
        )
