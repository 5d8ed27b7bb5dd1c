#!/usr/bin/env python3
"""Finds import cycles between the modules of a crate: a module imports from its own layer or
below, and no two modules import each other, however indirectly.

Usage: module_cycles.py CRATE_SRC_DIR [CRATE_SRC_DIR ...]

Each file (and folder) under src/ is a module, named by its path (`proto::http_phase`). A module
depends on every `crate::a::b` path it names; a path names the longest module it matches. A
module's own descendants and ancestors are left out (a parent re-exports its children). Exit
code 1 and the cycle, if there is one.
"""
import os
import re
import sys

PATH = re.compile(r"\bcrate::((?:[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)")
GROUP = re.compile(r"\b(crate|super)::((?:[a-z_][a-z0-9_]*::)*)\{([^{}]*)\}")


def modules(src):
    found = {}
    for folder, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(folder, name), src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                rel = []
            found["::".join(rel)] = open(os.path.join(folder, name)).read()
    return found


def paths(text, module):
    """Every module path `text` names: `crate::a::b`, and each item of `crate::a::{b, c}`;
    `super::` paths are resolved against `module`."""
    found = PATH.findall(text)
    for root, prefix, items in GROUP.findall(text):
        base = prefix
        if root == "super":
            parent = module.split("::")[:-1]
            base = "::".join(parent) + ("::" if parent else "") + prefix
        for item in items.split(","):
            item = item.strip().split(" as ")[0].strip()
            if item and item[0].islower() and item != "self":
                found.append(base + item)
            elif item == "self" and base:
                found.append(base.rstrip(":"))
    for path in re.findall(r"\bsuper::((?:[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)", text):
        parent = module.split("::")[:-1]
        found.append("::".join(parent + [path]))
    return found


def owner(path, names):
    parts = path.split("::")
    for n in range(len(parts), 0, -1):
        candidate = "::".join(parts[:n])
        if candidate in names:
            return candidate
    return None


def related(a, b):
    return a == b or a.startswith(b + "::") or b.startswith(a + "::") or "" in (a, b)


def check(src):
    mods = modules(src)
    graph = {m: set() for m in mods}
    for m, text in mods.items():
        # Tests may reach anywhere, and a comment's link is no import: neither is layering.
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)[0]
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
        for path in paths(text, m):
            target = owner(path, mods)
            if target is not None and not related(m, target):
                graph[m].add(target)
    # Cycles between top-level rooms (and between modules inside one).
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state:
                cycle = visit(n)
                if cycle:
                    return cycle
        state[m] = "done"
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state:
            cycle = visit(m)
            if cycle:
                return cycle, len(mods)
    return None, len(mods)


def main():
    status = 0
    for src in sys.argv[1:]:
        cycle, count = check(src)
        if cycle:
            print(f"{src}: module cycle: {' -> '.join(cycle)}")
            status = 1
        else:
            print(f"{src}: {count} modules, no import cycle")
    return status


if __name__ == "__main__":
    sys.exit(main())
