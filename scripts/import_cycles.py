#!/usr/bin/env python3
"""Finds import circles between the modules of each workspace crate.

A module is a source file; `a` depends on `b` when `a` names `crate::b…`,
`super::…` or `self::…` paths that resolve to `b`. Exits 1 when any crate has
a strongly connected group of more than one module, and prints each group.
"""
import os
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)")
USE_BLOCK = re.compile(r"\buse\s+(crate|super|self)::\{([^;]*)\};", re.S)


def modules(src):
    found = {}
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            found[tuple(rel)] = path
    return found


def resolve(mods, base, parts):
    """The longest known module prefix of base+parts."""
    full = list(base) + parts
    for n in range(len(full), -1, -1):
        if tuple(full[:n]) in mods:
            return tuple(full[:n])
    return None


def base_of(kind, me, is_dir_module):
    if kind == "crate":
        return ()
    here = me if is_dir_module else me[:-1]
    if kind == "self":
        return me
    return here[:-1] if is_dir_module else here


def paths(text):
    text = re.sub(r"//[^\n]*", "", text)
    for m in USE_BLOCK.finditer(text):
        for item in re.split(r",", m.group(2)):
            item = item.strip().split(" as ")[0].strip()
            first = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", item)
            if first:
                yield m.group(1), first[:2]
    for m in PATH.finditer(text):
        parts = [p for p in m.group(2).split("::") if p and p != "{"]
        yield m.group(1), parts


def edges(mods):
    graph = {m: set() for m in mods}
    for me, path in mods.items():
        is_dir = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        # Test modules inside a file may reach anything.
        text = text.split("#[cfg(test)]")[0]
        for kind, parts in paths(text):
            base = base_of(kind, me, is_dir)
            target = resolve(mods, base, parts)
            if target is None or target == me:
                continue
            # A parent's own file re-exporting children is not a dependency on them.
            if me == target[: len(me)]:
                continue
            graph[me].add(target)
    return graph


def circles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(group)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    failed = False
    for crate in sorted(os.listdir(root)):
        src = os.path.join(root, crate, "src")
        if not os.path.isfile(os.path.join(root, crate, "Cargo.toml")) or not os.path.isdir(src):
            continue
        for group in circles(edges(modules(src))):
            failed = True
            names = sorted("::".join(m) or "<root>" for m in group)
            print(f"{crate}: import circle of {len(group)} modules: {', '.join(names)}")
    if not failed:
        print("no import circles")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
