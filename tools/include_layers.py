#!/usr/bin/env python3
"""The include graph between the folders of framework/ (qx/<folder>/...), checked against the
declared floors below, its cycles, and what each plugin includes.

Usage: tools/include_layers.py [--check] [--picture] [--root FRAMEWORK_DIR]
--picture prints the floors as the block docs/architecture.md shows; --check also fails when
that block differs from it, so the picture cannot drift from the tree.
Prints each folder with its floor and the folders its files include, then every include that goes
up or sideways (to a folder on the same or a higher floor), every cycle, and every plugin that
includes more than its kind may. With --check, exits 1 on any of them (CTest IncludeLayers). Headers and sources both count: a .cpp in framework/src/sim that includes
qx/store/... makes sim depend on store.

Each folder belongs to one library of framework/CMakeLists.txt (LIBRARIES below); --check also
compares the CMake file's source lists and link lines with that table, fails an include of a
folder whose library is not linked, and an include of LibTorch in a library declared free of it.

A plugin may include the plugin boundary (qx/plugin/, which includes qx/core/ alone), qx/core/, qx/spec/,
and its kind's interface: qx/quant/ for observers and quantizers, qx/nn/ for models, and for
passes the simulation they act on (qx/passes/, qx/sim/, qx/quant/, qx/nn/), plus qx/data/ and
qx/train/ for the passes that train.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "framework"
INCLUDE = re.compile(r'^\s*#\s*include\s+"qx/([a-z_]+)/', re.M)


# The floors of framework/, lowest first. A folder may include only folders on lower floors, so
# the order is the architecture (docs/architecture.md draws it): plain data at the bottom, then
# the quantization core, the engine rooms, and the schedulers and the command line on top. A new
# folder must be given a floor here before it passes --check.
FLOORS = [
    ["core"],                                             # errors, options, text, the clock
    ["spec"],                                             # cell identity, widths, epochs as plain data; canonical JSON
    ["quant", "nn", "plugin", "data", "store", "config"],  # quantization, models, the plugin boundary, CIFAR-10, the database, experiment files
    ["sim", "eval", "report"],                            # the simulation, evaluation and the device; the report (reads the store)
    ["train"],                                            # training
    ["passes"],                                           # passes over a simulated cell (some train)
    ["host"],                                             # the host that loads plugins of every kind
    ["deploy"],                                           # qx pack: a cell's model written as integers
    ["run"],                                              # the schedulers: serial runner, MPI farm, sessions
    ["cli"],                                              # the qx command
]
# The libraries of framework/CMakeLists.txt (qx_<name>, alias qx::<name>): the folders each one
# compiles and the libraries it links. --check fails where the CMake file's source lists or link
# lines differ from these, where a folder includes one of a library its own does not link, and
# where a library declared free of LibTorch includes it.
LIBRARIES = {
    "core":   (["core", "spec"], []),
    "config": (["config"], ["core"]),
    "store":  (["store"], ["core"]),
    "report": (["report"], ["store", "config"]),
    "sdk":    (["quant", "nn", "plugin"], ["core"]),
    "engine": (["data", "sim", "eval", "train", "passes", "host"], ["sdk", "config"]),
    "run":    (["deploy", "run"], ["engine", "store"]),
}
TORCH_FREE = {"core", "config", "store", "report"}
FLOOR_OF = {folder: level for level, folders in enumerate(FLOORS) for folder in folders}


def floor_violations(edges: dict) -> list:
    """Includes of a folder on the same or a higher floor, and folders with no declared floor."""
    found = []
    for source in sorted(edges):
        if source not in FLOOR_OF:
            found.append(f"qx/{source}/ has no floor in FLOORS")
            continue
        for target in sorted(edges[source]):
            if target not in FLOOR_OF:
                found.append(f"qx/{target}/ (included by qx/{source}/) has no floor in FLOORS")
            elif FLOOR_OF[target] >= FLOOR_OF[source]:
                found.append(f"qx/{source}/ (floor {FLOOR_OF[source]}) includes qx/{target}/ (floor {FLOOR_OF[target]})")
    return found


LIBRARY_OF = {folder: name for name, (folders, _) in LIBRARIES.items() for folder in folders}


def linked(library: str) -> set:
    """The libraries `library` links, directly or through others."""
    found, todo = set(), list(LIBRARIES[library][1])
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(LIBRARIES[name][1])
    return found


def library_violations(edges: dict) -> list:
    """Includes of a folder whose library the includer's does not link, and unplaced folders."""
    found = []
    for source in sorted(edges):
        if source == "cli":  # the program links every library
            continue
        if source not in LIBRARY_OF:
            found.append(f"qx/{source}/ belongs to no library in LIBRARIES")
            continue
        mine = LIBRARY_OF[source]
        for target in sorted(edges[source]):
            theirs = LIBRARY_OF.get(target)
            if theirs and theirs != mine and theirs not in linked(mine):
                found.append(f"qx/{source}/ (qx::{mine}) includes qx/{target}/ (qx::{theirs}), which qx::{mine} does not link")
    return found


TORCH_INCLUDE = re.compile(r'^\s*#\s*include\s+<(torch|ATen|c10)/', re.M)


def torch_violations() -> list:
    """Files of the LibTorch-free libraries that include LibTorch."""
    found = []
    for path in sorted(ROOT.rglob("*")):
        if path.suffix in (".h", ".cpp") and LIBRARY_OF.get(folder_of(path)) in TORCH_FREE and \
                TORCH_INCLUDE.search(path.read_text()):
            found.append(f"{path.relative_to(ROOT.parent)} includes LibTorch, but qx::{LIBRARY_OF[folder_of(path)]} is declared free of it")
    return found


def cmake_violations() -> list:
    """framework/CMakeLists.txt's source lists and link lines against LIBRARIES."""
    listing = ROOT / "CMakeLists.txt"
    if not listing.exists():
        return []
    text = listing.read_text()
    found = []
    for name, (folders, links) in LIBRARIES.items():
        sources = re.search(rf"set\(QX_{name.upper()}_SOURCES(.*?)\)\n", text, re.S)
        if not sources:
            found.append(f"framework/CMakeLists.txt has no QX_{name.upper()}_SOURCES list")
            continue
        built = set(re.findall(r"src/([a-z_]+)/", sources.group(1)))
        with_sources = {folder for folder in folders if (ROOT / "src" / folder).is_dir()}  # plugin/ is headers only
        if built != with_sources:
            found.append(f"qx::{name} compiles src/{{{', '.join(sorted(built))}}}, declared {{{', '.join(sorted(with_sources))}}}")
        linked_here = set()
        for line in re.findall(rf"target_link_libraries\(qx_{name}\s([^)]*)\)", text):
            linked_here |= {token for token in re.findall(r"\bqx_([a-z]+)\b", line) if token in LIBRARIES}
        if linked_here != set(links):
            found.append(f"qx::{name} links {{{', '.join(sorted(linked_here))}}} in CMake, declared {{{', '.join(links)}}}")
    return found


def picture(edges: dict) -> str:
    """The floors, top down, each folder with its library and what it includes."""
    lines = []
    for level in reversed(range(len(FLOORS))):
        for i, folder in enumerate(FLOORS[level]):
            below = ", ".join(sorted(edges.get(folder, ()))) or "-"
            library = f"qx::{LIBRARY_OF[folder]}" if folder in LIBRARY_OF else "program"
            lines.append(f"{str(level) if i == 0 else '':>2} | {folder:7} {library:11} -> {below}")
        lines.append("---+" + "-" * 40)
    return "\n".join(lines[:-1]) + "\n"


PICTURE_BEGIN = "<!-- include_layers.py --picture: begin -->\n```\n"
PICTURE_END = "```\n<!-- include_layers.py --picture: end -->"


def picture_drift(edges: dict) -> list:
    """docs/architecture.md's picture block, where that page exists, against the tree."""
    page = ROOT.parent / "docs" / "architecture.md"
    if not page.exists():
        return []
    text = page.read_text()
    if PICTURE_BEGIN not in text or PICTURE_END not in text:
        return ["docs/architecture.md has no include_layers.py --picture block"]
    shown = text.split(PICTURE_BEGIN, 1)[1].split(PICTURE_END, 1)[0]
    if shown != picture(edges):
        return ["docs/architecture.md's floor picture differs from the tree: paste `tools/include_layers.py --picture`"]
    return []


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
    "observers": {"plugin", "core", "spec", "quant"},
    "quantizers": {"plugin", "core", "spec", "quant"},
    "models": {"plugin", "core", "spec", "nn"},
    "passes": {"plugin", "core", "spec", "passes", "sim", "quant", "nn", "data", "train"},
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
    global ROOT, PLUGINS
    if "--root" in sys.argv:  # another tree laid out as this one (tests/tools/include_layers_test.sh)
        ROOT = pathlib.Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
        PLUGINS = ROOT.parent / "plugins"
    edges = graph()
    if "--picture" in sys.argv:
        print(picture(edges), end="")
        return 0
    for folder in sorted(edges, key=lambda f: (FLOOR_OF.get(f, len(FLOORS)), f)):
        print(f"{FLOOR_OF.get(folder, '?'):>2} {folder:8} -> {', '.join(sorted(edges[folder])) or '-'}")
    upward = floor_violations(edges) + picture_drift(edges)
    libraries = library_violations(edges) + torch_violations() + cmake_violations()
    for violation in libraries:
        print("library: " + violation)
    if not libraries:
        print("every library compiles its declared folders, links its declared libraries, and its folders include only those")
    for violation in upward:
        print("floor: " + violation)
    if not upward:
        print("every folder includes only folders on lower floors")
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
    return 1 if ((upward or libraries or found or violations) and "--check" in sys.argv) else 0


if __name__ == "__main__":
    sys.exit(main())
