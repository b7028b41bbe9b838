"""YAML from repositories the tools do not control, read within bounds.

Anchors and aliases are legitimate (compose files' `x-` blocks, GitHub Actions workflows), but
an alias names a node rather than copying it: ten anchors, each a list of ten aliases of the one
before, is a kilobyte that is 10**10 items to whatever walks or prints it (a "billion laughs").
So each document is composed first, its expanded size (every node counted as often as aliases
reach it) measured on the node graph with each subtree's size worked out once, and only then
built. A file past the size bound, the node bound or the depth bound, or whose aliases contain
themselves, is refused before anything walks it.

libyaml's parser (`yaml.CSafeLoader`) composes the same node graph as PyYAML's pure-Python one,
far faster, so it reads when PyYAML has it; the bounds are checked on the graph, the same for
both. Nesting is the one bound a parser meets on its own, each its own way (the pure one runs
out of recursion, libyaml stops at 1,000 levels), so MAX_YAML_DEPTH, below both, decides it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

# Bytes, or characters of text already decoded. The audit's bound for any file it reads: a
# rendered manifest with its CRDs comes close to it.
MAX_YAML_BYTES = 2_000_000
# Each node counted as often as aliases reach it. YAML without aliases holds at most about one
# node a byte (`{a,a,a}`), so aliases never cost a check more than a plain file within
# MAX_YAML_BYTES can; real files, anchors and all, are far below it.
MAX_YAML_NODES = 2_000_000
# Levels of nesting, aliases followed. Well below the pure loader's recursion (about 490 levels)
# and libyaml's 1,000, so both refuse the same files; real files (CRD schemas) nest under 100.
MAX_YAML_DEPTH = 200

# Evaluated lazily: without libyaml, PyYAML has no CSafeLoader to name.
type Loader = type[yaml.SafeLoader] | type[yaml.CSafeLoader]


class YamlReadError(ValueError):
    """The file was not read as YAML; the message says why, as a report's "not read" line."""


class NotYamlError(YamlReadError):
    """Not UTF-8, or not valid YAML (a Helm template, say)."""


class YamlRefusedError(YamlReadError):
    """Past a bound: too large, nested too deeply, or expanding past MAX_YAML_NODES."""


def _past_nesting_limit(error: yaml.YAMLError) -> bool:
    """libyaml's own nesting limit, met before MAX_YAML_DEPTH could be measured."""
    return getattr(error, "problem", None) == "exceeded maximum nesting depth"


def libyaml_reads_within_bounds(with_libyaml: bool) -> bool:
    """True when PyYAML has libyaml, and a libyaml that stops at a nesting limit of its own: its
    composer recurses in C, where nothing else would stop a deep enough file."""
    if not with_libyaml:
        return False
    try:
        probe = yaml.CSafeLoader("[" * 1_001 + "]" * 1_001)
    except AttributeError:  # a PyYAML whose libyaml lacks the C loader
        return False
    try:
        probe.get_single_node()
    except yaml.YAMLError as error:
        return _past_nesting_limit(error)
    finally:
        probe.dispose()
    return False


def default_loader(with_libyaml: bool) -> Loader:
    """libyaml's loader when it reads within bounds, else PyYAML's pure-Python one."""
    return yaml.CSafeLoader if libyaml_reads_within_bounds(with_libyaml) else yaml.SafeLoader


# What every read that names no loader uses.
DEFAULT_LOADER: Loader = default_loader(yaml.__with_libyaml__)


def load_documents(
    data: bytes | str,
    *,
    loader: Loader | None = None,
    max_bytes: int = MAX_YAML_BYTES,
    max_nodes: int = MAX_YAML_NODES,
) -> list[Any]:
    """Every document in `data` (None ones included), as `yaml.safe_load_all` builds them."""
    with _reading(data, loader, max_bytes) as reader:
        nodes = 0
        documents = []
        while reader.check_node() and (node := reader.get_node()) is not None:
            nodes += _expanded_size(node, nodes, max_nodes)
            documents.append(reader.construct_document(node))
        return documents


def load_document(
    data: bytes | str,
    *,
    loader: Loader | None = None,
    max_bytes: int = MAX_YAML_BYTES,
    max_nodes: int = MAX_YAML_NODES,
) -> Any:
    """The file's one document (None when empty), as `yaml.safe_load` builds it."""
    with _reading(data, loader, max_bytes) as reader:
        node = reader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, 0, max_nodes)
        return reader.construct_document(node)


@contextmanager
def _reading(
    data: bytes | str, loader: Loader | None, max_bytes: int
) -> Iterator[yaml.SafeLoader | yaml.CSafeLoader]:
    """A loader on `data`; a parser's error or a nesting too deep for it said as a read error."""
    try:
        # Inside: the pure loader checks the characters as it starts, libyaml as it parses.
        reader = _reader(data, loader or DEFAULT_LOADER, max_bytes)
    except yaml.YAMLError as error:
        raise NotYamlError(f"not valid YAML ({error})") from error
    try:
        yield reader
    except yaml.YAMLError as error:
        if _past_nesting_limit(error):
            raise YamlRefusedError("YAML nested too deeply") from error
        raise NotYamlError(f"not valid YAML ({error})") from error
    except RecursionError as error:
        raise YamlRefusedError("YAML nested too deeply") from error
    finally:
        reader.dispose()


def _reader(
    data: bytes | str, loader: Loader, max_bytes: int
) -> yaml.SafeLoader | yaml.CSafeLoader:
    # Text already decoded is measured in characters, what the parser works through: re-encoded,
    # a file read with its bad bytes replaced (the audit's) could pass its size on disk.
    if len(data) > max_bytes:
        raise YamlRefusedError(f"YAML over {max_bytes / 1_000_000:g} MB")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise NotYamlError(f"not UTF-8 text ({error.reason})") from error
    return loader(data)


def _expanded_size(root: yaml.Node, counted: int, max_nodes: int) -> int:
    """How many nodes `root` is once every alias is followed, refused when that and the
    `counted` nodes of earlier documents pass `max_nodes`, or when it nests deeper than
    MAX_YAML_DEPTH. An aliased node is one object in the graph, so each collection's size and
    depth are worked out once; a scalar is one node a level deep however it is reached."""
    if not isinstance(root, _COLLECTIONS):
        return 1
    measured: dict[int, tuple[int, int]] = {}  # a collection's id: its size and depth
    open_nodes: set[int] = set()  # entered, not yet measured: reached again, an alias loops
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # depth first without recursion: the walk must not be what runs out
        node, children_measured = stack.pop()
        key = id(node)
        if children_measured:
            size, depth = 1, 1
            for child in _children(node):
                if type(child) is yaml.ScalarNode:
                    size += 1
                else:
                    child_size, child_depth = measured[id(child)]
                    size += child_size
                    depth = max(depth, child_depth + 1)
            if counted + size > max_nodes:
                raise YamlRefusedError(
                    f"YAML whose aliases expand past {max_nodes:,} nodes (a 'billion laughs')"
                )
            if depth > MAX_YAML_DEPTH:
                raise YamlRefusedError("YAML nested too deeply")
            measured[key] = size, depth
            open_nodes.discard(key)
        elif key in open_nodes:
            raise YamlRefusedError("YAML whose alias contains itself (an endless structure)")
        elif key not in measured:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend(
                (child, False) for child in _children(node) if type(child) is not yaml.ScalarNode
            )
    return measured[id(root)][0]


_COLLECTIONS = (yaml.SequenceNode, yaml.MappingNode)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
