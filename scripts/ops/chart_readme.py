"""The Helm chart's README values table against its values.yaml.

values.yaml documents each value with a helm-docs style comment: `# -- text` on the line(s)
right above the key, continued by further `#` lines. A documented map (like `resources`)
documents its children too. This script checks that:
- every value of values.yaml is documented (itself, or by a documented map above it);
- README.md's values table (between `<!-- values-table:begin -->` and
  `<!-- values-table:end -->`) lists exactly the documented keys, and each row says what
  values.yaml says: type, default and description.

Usage: chart_readme.py CHART_DIR          check (exit 1 with the differences)
       chart_readme.py CHART_DIR --write  rewrite the README's table from values.yaml
scripts/ops/chart.sh runs the check; it never writes.
"""

import json
import pathlib
import re
import sys

import yaml

BEGIN, END = "<!-- values-table:begin -->", "<!-- values-table:end -->"
KEY_LINE = re.compile(r"^( *)([A-Za-z0-9_.-]+):(?: |$)")
DOC_START = re.compile(r"^ *# -- ?(.*)$")
DOC_MORE = re.compile(r"^ *#(?: (.*))?$")


def documented(text, values):
    """{dotted key: description} from the `# --` comments, and the undocumented leaves."""
    docs, pending, stack = {}, None, []  # stack: (indent, key) of the enclosing maps
    for line in text.splitlines():
        if m := DOC_START.match(line):
            pending = [m.group(1).strip()]
            continue
        if pending is not None and (m := DOC_MORE.match(line)) and not line.lstrip().startswith("# --"):
            pending.append((m.group(1) or "").strip())
            continue
        m = KEY_LINE.match(line)
        if not m:
            if not line.strip() or line.lstrip().startswith("#"):
                pending = None
            continue
        indent, key = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = [k for _, k in stack]
        node = values
        for k in parent:
            node = node.get(k) if isinstance(node, dict) else None
        if not isinstance(node, dict) or key not in node:
            pending = None  # a key inside a list item or a map value: part of a default
            continue
        path = ".".join(parent + [key])
        if pending is not None:
            docs[path] = " ".join(p for p in pending if p)
            pending = None
        if isinstance(node[key], dict) and node[key]:
            stack.append((indent, key))
    undocumented = []

    def walk(node, prefix, covered):
        for key, value in node.items():
            path = f"{prefix}{key}"
            here = covered or path in docs
            if isinstance(value, dict) and value and path not in docs:
                walk(value, path + ".", here)
            elif not here:
                undocumented.append(path)

    walk(values, "", False)
    return docs, undocumented


def lookup(values, path):
    node = values
    for k in path.split("."):
        node = node[k]
    return node


def type_name(value):
    return {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "object"}.get(
        type(value), type(value).__name__
    )


def cell(text):
    return text.replace("|", "\\|")


def table(values, docs):
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for path in docs:  # in values.yaml's order
        value = lookup(values, path)
        default = json.dumps(value, separators=(", ", ": "))
        rows.append(f"| `{path}` | {type_name(value)} | `{cell(default)}` | {cell(docs[path])} |")
    return rows


def main():
    chart = pathlib.Path(sys.argv[1])
    write = "--write" in sys.argv[2:]
    text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(text) or {}
    docs, undocumented = documented(text, values)
    problems = [f"values.yaml: {p} has no `# --` comment" for p in undocumented]
    readme_path = chart / "README.md"
    readme = readme_path.read_text()
    if BEGIN not in readme or END not in readme:
        print(f"{readme_path}: no {BEGIN} ... {END} values table")
        return 1
    head, rest = readme.split(BEGIN, 1)
    current, tail = rest.split(END, 1)
    expected = table(values, docs)
    if write:
        readme_path.write_text(head + BEGIN + "\n" + "\n".join(expected) + "\n" + END + tail)
        print(f"{readme_path}: values table written ({len(docs)} values)")
        return 0
    rows = [r.strip() for r in current.strip().splitlines() if r.strip().startswith("|")]
    listed = [m.group(1) for r in rows[2:] if (m := re.match(r"^\| `([^`]+)` \|", r))]
    for key in docs:
        if key not in listed:
            problems.append(f"README.md: {key} is documented in values.yaml but not in the table")
    for key in listed:
        if key not in docs:
            problems.append(f"README.md: {key} is in the table but not documented in values.yaml")
    if not problems:
        for want, have in zip(expected, rows):
            if want != have:
                problems.append(f"README.md: row differs from values.yaml:\n  README: {have}\n  values: {want}")
        if len(rows) != len(expected):
            problems.append(f"README.md: {len(rows) - 2} rows, values.yaml documents {len(docs)}")
    for p in problems:
        print(p)
    print(f"README values table: {len(listed)} rows, values.yaml: {len(docs)} documented values, "
          f"{len(problems)} problem(s)")
    if problems:
        print(f"(regenerate the table: {sys.executable} {sys.argv[0]} {chart} --write)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
