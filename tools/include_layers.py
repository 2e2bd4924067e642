#!/usr/bin/env python3
"""The include graph between the folders of framework/ (qx/<folder>/...), and its cycles.

Usage: tools/include_layers.py [--check]
Prints each folder with the folders its files include, then every cycle. With --check, exits 1
when there is a cycle (CTest IncludeLayers). Headers and sources both count: a .cpp in
framework/src/sim that includes qx/store/... makes sim depend on store.
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


def main() -> int:
    edges = graph()
    for folder in sorted(edges):
        print(f"{folder:8} -> {', '.join(sorted(edges[folder])) or '-'}")
    found = cycles(edges)
    for component in found:
        print("cycle: " + " <-> ".join(component))
    if not found:
        print("no cycles between folders")
    return 1 if (found and "--check" in sys.argv) else 0


if __name__ == "__main__":
    sys.exit(main())
