#!/usr/bin/env python3
"""The architecture's rules, checked: run from the repository root.

1. No crate's modules import each other in a cycle (file by file, `use crate::`,
   `super::`, `self::` and a parent's use of its children).
2. In the shell (`src/`), no module imports one of a layer above it:
   settings < backend, loadgen < daemon < api < cli.
3. The pure crates (autoscaler-core, autoscaler-sim, autoscaler-charts) have no async
   runtime, AWS SDK, HTTP or process crate anywhere in their dependency trees.
4. No function in the core or the daemon is longer than a reader can hold (120 lines).

Prints every violation and exits 1 if there is one. `--report DIR` prints the cycles and
upward imports of another checkout (for before/after figures) and always exits 0.
"""
import os
import re
import subprocess
import sys
from collections import defaultdict

CRATES = ["src", "core/src", "sim/src", "charts/src", "telemetry/src", "service/src", "hardened-http/src"]
SHELL_LAYERS = {"settings": 0, "backend": 1, "loadgen": 1, "daemon": 2, "api": 3, "<main>": 4, "cli": 4}
PURE = ["autoscaler-core", "autoscaler-sim", "autoscaler-charts"]
FORBIDDEN = re.compile(r"^(tokio|tokio-\S+|mio|aws-\S+|hyper|hyper-\S+|http|http-body\S*|reqwest|warp|tower|tower-\S+|h2|rustls|notify|signal-hook\S*|command-group|duct) ")


def modules(root):
    files = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            if f.endswith(".rs"):
                path = os.path.join(d, f)
                rel = os.path.relpath(path, root)[:-3].split(os.sep)
                if rel[-1] == "main":
                    rel = rel[:-1] + ["<main>"]
                elif rel[-1] in ("mod", "lib"):
                    rel = rel[:-1]
                files[tuple(rel)] = path
    return files


def code(path):
    text = re.sub(r"//[^\n]*", "", open(path).read())
    # Unit tests may reach anywhere in their crate; they are not part of the design.
    return re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]


def graph(root):
    files = modules(root)

    def resolve(path):
        for n in range(len(path), -1, -1):
            if tuple(path[:n]) in files:
                return tuple(path[:n])
        return None

    edges = defaultdict(set)
    for mod, path in files.items():
        text = code(path)
        for m in re.finditer(r"\b(crate|super|self)(?=::)((?:::[A-Za-z_]\w*)*)(::\{[^;]*?\})?", text):
            base, rest, group = m.group(1), m.group(2), m.group(3)
            segs = [s for s in rest.split("::") if s]
            if base == "crate":
                start = []
            elif base == "self":
                start = list(mod)
            else:
                start = list(mod)[:-1]
                while segs and segs[0] == "super":
                    segs, start = segs[1:], start[:-1]
            paths = [] if group else [start + segs]
            if group:
                inner = re.findall(r"[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*", group)
                paths += [start + segs + i.split("::") for i in inner]
            for p in paths:
                target = resolve(p)
                if target is not None and target != mod:
                    edges[mod].add(target)
        for child in re.findall(r"^\s*(?:pub(?:\([a-z]+\))? )?mod (\w+);", text, re.M):
            if re.search(r"(?<![:\w])" + child + r"::", text) and mod + (child,) in files:
                edges[mod].add(mod + (child,))
    return files, edges


def cycles(files, edges):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in files:
        if v not in index:
            strong(v)
    return found


def name(m):
    return "/".join(m) or "(crate root)"


def upward(edges):
    out = []
    for a, targets in edges.items():
        for b in targets:
            la, lb = SHELL_LAYERS.get(a[0] if a else ""), SHELL_LAYERS.get(b[0] if b else "")
            if la is not None and lb is not None and lb > la:
                out.append((a, b))
    return sorted(out)


LONG = 120
SHORT_FUNCTIONS = ["core/src", "src/daemon"]


def long_functions(root):
    """Functions of more than LONG lines, tests aside: (lines, file, name)."""
    out = []
    for d, _, fs in os.walk(root):
        for f in fs:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(d, f)
            text = open(path).read()
            keep_lines = lambda m: '""' + "\n" * m.group(0).count("\n")
            text = re.sub(r'r#"(?:.|\n)*?"#', keep_lines, text)
            text = re.sub(r'"(?:[^"\\]|\\.|\n)*"', keep_lines, text)
            text = re.sub(r"//[^\n]*", "", text)
            text = re.sub(r"'(?:[^'\\\n]|\\.)'", "' '", text)
            text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
            lines = text.split("\n")
            for i, line in enumerate(lines):
                m = re.match(r"\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?fn\s+(\w+)", line)
                if not m:
                    continue
                depth, started, j = 0, False, i
                for j in range(i, len(lines)):
                    for ch in lines[j]:
                        if ch == "{":
                            depth, started = depth + 1, True
                        elif ch == "}":
                            depth -= 1
                    if (started and depth == 0) or (not started and lines[j].rstrip().endswith(";")):
                        break
                if j - i + 1 > LONG:
                    out.append((j - i + 1, path, m.group(1)))
    return out


def check_tree(report_only):
    problems = []
    for crate in PURE:
        out = subprocess.run(
            ["cargo", "tree", "-p", crate, "-e", "normal", "--prefix", "none"],
            capture_output=True, text=True,
        )
        if out.returncode != 0:
            problems.append(f"cargo tree -p {crate} failed: {out.stderr.strip()}")
            continue
        bad = sorted({l.split(" ")[0] for l in out.stdout.splitlines() if FORBIDDEN.match(l)})
        if bad:
            problems.append(f"{crate} depends on {', '.join(bad)}: the pure crates may not")
        elif not report_only:
            print(f"ok   {crate}: {len(set(out.stdout.splitlines()))} crates in its tree, none of them I/O")
    return problems


def main():
    report = "--report" in sys.argv
    top = sys.argv[sys.argv.index("--report") + 1] if report else "."
    problems = []
    for crate in CRATES:
        root = os.path.join(top, crate)
        if not os.path.isdir(root):
            continue
        files, edges = graph(root)
        for c in cycles(files, edges):
            problems.append(f"{crate}: import cycle: " + " -> ".join(name(m) for m in c))
        if crate == "src":
            for a, b in upward(edges):
                problems.append(f"{crate}: {name(a)} imports {name(b)}, a layer above it")
    for root in SHORT_FUNCTIONS:
        for n, path, fn in long_functions(os.path.join(top, root)):
            problems.append(f"{path}: fn {fn} has {n} lines, more than {LONG}")
    if not report:
        problems += check_tree(False)
    for p in problems:
        print(p)
    if report:
        print(f"{len(problems)} cycles and upward imports")
        return 0
    if problems:
        print(f"{len(problems)} architecture rule(s) broken")
        return 1
    print(f"ok   no import cycles, no upward imports in the shell, no function over {LONG} lines in the core or the daemon")
    return 0


if __name__ == "__main__":
    sys.exit(main())
