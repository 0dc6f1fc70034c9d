# SPDX-License-Identifier: MIT
"""The package's structure: the one-way dependency rule between its layers, checked on every
import statement and in fresh interpreters, and no module reading another's private state."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nomul

SOURCE = Path(nomul.__file__).parent

# the layers, lowest first: a module may import its own layer and the ones below, never above;
# sim and hw are siblings that do not import each other; importers (ONNX in, integer models
# out) sit on the models beside the design; explore (sweeps) beside the API; training is
# imported by nothing but the API, the CLI, the importers (post-training quantization) and
# explore
RANK = {"base": 0, "models": 1, "design": 2, "importers": 2, "gateware": 3, "sim": 4, "hw": 4,
        "api": 5, "explore": 5, "cli": 6}
BASE = {"nomul", "nomul.errors", "nomul.numeric", "nomul.progress", "nomul.cache", "nomul.alloc"}


def _layer(module):
    if module in BASE:
        return "base"
    part = module.split(".")[1]
    return "api" if part == "api" else part


def _modules():
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def _imports(name, path):
    """Every nomul module ``name``'s file imports, at module level or inside a function."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("nomul"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("nomul"):
                yield target


def test_every_import_follows_the_one_way_rule():
    wrong = []
    for name, path in _modules():
        layer = _layer(name)
        for target in _imports(name, path):
            other = _layer(target)
            upward = RANK[other] > RANK[layer]
            sideways = {layer, other} == {"sim", "hw"}
            training = ".training" in target and layer not in ("api", "cli", "models",
                                                                 "importers", "explore")
            if upward or sideways or training:
                wrong.append(f"{name} imports {target}")
    assert wrong == []


@pytest.mark.parametrize("package, forbidden", [
    ("nomul", ("nomul.models", "nomul.design", "numpy", "amaranth", "rich")),
    ("nomul.models", ("nomul.design", "nomul.gateware", "nomul.sim", "nomul.hw", "nomul.cli",
                      "amaranth")),
    ("nomul.design", ("nomul.gateware", "nomul.sim", "nomul.hw", "nomul.cli", "amaranth",
                      "nomul.models.training")),
    ("nomul.gateware", ("nomul.sim", "nomul.hw", "nomul.cli", "nomul.models.training")),
    ("nomul.sim", ("nomul.hw", "nomul.cli", "nomul.models.training")),
    ("nomul.hw", ("nomul.sim", "nomul.cli", "nomul.models.training")),
    ("nomul.cli", ("nomul.models", "nomul.design", "numpy", "amaranth")),
])
def test_each_subpackage_imports_nothing_above_it(package, forbidden):
    """Imported alone in a fresh interpreter (with every submodule of it), a layer brings in
    no layer above it; the plans need no Amaranth; ``import nomul`` and the CLI stay light."""
    code = ("import importlib, json, pkgutil, sys\n"
            f"root = importlib.import_module({package!r})\n"
            f"if {package!r} not in ('nomul', 'nomul.cli'):\n"
            "    for info in pkgutil.walk_packages(root.__path__, root.__name__ + '.'):\n"
            "        importlib.import_module(info.name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    loaded = json.loads(result.stdout)
    assert [m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden)] == []


def _private_reads(path):
    """``obj._name`` reads where ``obj`` is not ``self``/``cls`` (another object's private
    state), in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append(f"{path.name}:{node.lineno} .{node.attr}")
    return found


@pytest.mark.parametrize("package", ["hw", "design", "sim", "cli"])
def test_no_module_reads_another_modules_private_attributes(package):
    found = [hit for path in sorted((SOURCE / package).rglob("*.py"))
             for hit in _private_reads(path)]
    assert found == []
