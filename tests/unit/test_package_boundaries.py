"""The product never imports the simulators: every module of contracts, chathub_common, datemaker and
chathub_bot is read (ast, not imported) and none of its imports, at module level or inside a function,
names chathub_sim. The simulators may import the product; only the reverse is forbidden."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("contracts", "chathub_common", "datemaker", "chathub_bot")
SIMULATORS = "chathub_sim"


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the module, relative ones resolved; for
    ``from M import N`` both M and M.N (N may be a module)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def names_simulators(module: str) -> bool:
    return module == SIMULATORS or module.startswith(SIMULATORS + ".")


def test_every_product_package_is_scanned():
    for package in PRODUCT:
        assert (ROOT / package / "__init__.py").is_file(), f"{package} is not a package of the repository"
        assert modules(package), package
    assert (ROOT / SIMULATORS / "__init__.py").is_file()


@pytest.mark.parametrize("package", PRODUCT)
def test_the_product_does_not_import_the_simulators(package):
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in modules(package)
        for line, module in imported(path)
        if names_simulators(module)
    ]
    assert not offending, "the product must not import chathub_sim:\n" + "\n".join(offending)


def test_the_scan_sees_every_kind_of_import(tmp_path):
    """The scan itself: plain, from, function-level and relative imports are all resolved."""
    package = tmp_path / "datemaker" / "service"
    package.mkdir(parents=True)
    module = package / "x.py"
    module.write_text(
        "import chathub_sim.telegram\n"
        "from chathub_sim.meet import MeetEmulator\n"
        "import chathub_simulated\n"
        "from . import ports\n"
        "from ..adapters import metrics\n"
        "def f():\n"
        "    from chathub_sim import demo\n"
    )
    found = [name for _, name in imported(module, tmp_path)]
    assert [name for name in found if names_simulators(name)] == [
        "chathub_sim.telegram",
        "chathub_sim.meet",
        "chathub_sim.meet.MeetEmulator",
        "chathub_sim",
        "chathub_sim.demo",
    ]
    assert {"chathub_simulated", "datemaker.service.ports", "datemaker.adapters.metrics"} <= set(found)
