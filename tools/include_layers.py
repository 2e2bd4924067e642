#!/usr/bin/env python3
"""The include graph between the folders of framework/ (qx/<folder>/...), its cycles, and what
each plugin includes.

Usage: tools/include_layers.py [--check]
Prints each folder with the folders its files include, then every cycle, then every plugin that
includes more than its kind may. With --check, exits 1 on a cycle or such a plugin (CTest
IncludeLayers). Headers and sources both count: a .cpp in framework/src/sim that includes
qx/store/... makes sim depend on store.

A plugin may include the plugin boundary (qx/plugin/, which includes qx/core/ alone), qx/core/,
and its kind's interface: qx/quant/ for observers and quantizers, qx/nn/ for models, and for
passes the simulation they act on (qx/passes/, qx/sim/, qx/quant/, qx/nn/), plus qx/data/ and
qx/train/ for the passes that train.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "framework"
INCLUDE = re.compile(r'^\s*#\s*include\s+"qx/([a-z_]+)/', re.M)


def folder_of(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).parts
    # framework/include/qx/<folder>/x.h, framework/src/<folder>/x.cpp, framework/cli/x.cpp
    if parts[0] == "include":
        return parts[2]
    if parts[0] == "src":
        return parts[1]
    return parts[0]


def graph() -> dict:
    edges: dict = {}
    for path in sorted(ROOT.rglob("*")):
        if path.suffix not in (".h", ".cpp"):
            continue
        source = folder_of(path)
        edges.setdefault(source, set())
        for target in INCLUDE.findall(path.read_text()):
            if target != source:
                edges[source].add(target)
    return edges


def cycles(edges: dict) -> list:
    """Strongly connected components with more than one folder (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


PLUGINS = ROOT.parent / "plugins"
ALLOWED = {
    "observers": {"plugin", "core", "quant"},
    "quantizers": {"plugin", "core", "quant"},
    "models": {"plugin", "core", "nn"},
    "passes": {"plugin", "core", "passes", "sim", "quant", "nn", "data", "train"},
}


def plugin_violations(edges: dict) -> list:
    """Plugins that include a folder their kind may not, and a boundary that includes more than core."""
    found = []
    for path in sorted(PLUGINS.rglob("*.cpp")):
        kind = path.relative_to(PLUGINS).parts[0]
        extra = set(INCLUDE.findall(path.read_text())) - ALLOWED.get(kind, set())
        if extra:
            found.append(f"{path.relative_to(ROOT.parent)} ({kind}) includes qx/{', qx/'.join(sorted(extra))}")
    boundary = set(INCLUDE.findall((ROOT / "include/qx/plugin/registrar.h").read_text())) - {"core", "plugin"}
    boundary |= set(INCLUDE.findall((ROOT / "include/qx/plugin/abi.h").read_text())) - {"core", "plugin"}
    if boundary:
        found.append(f"the plugin boundary (registrar.h, abi.h) includes qx/{', qx/'.join(sorted(boundary))}")
    return found


def main() -> int:
    edges = graph()
    for folder in sorted(edges):
        print(f"{folder:8} -> {', '.join(sorted(edges[folder])) or '-'}")
    found = cycles(edges)
    for component in found:
        print("cycle: " + " <-> ".join(component))
    if not found:
        print("no cycles between folders")
    violations = plugin_violations(edges)
    for violation in violations:
        print("plugin: " + violation)
    if not violations:
        print("every plugin includes only the boundary, qx/core/ and its kind's interface")
    return 1 if ((found or violations) and "--check" in sys.argv) else 0


if __name__ == "__main__":
    sys.exit(main())
