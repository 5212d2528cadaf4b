"""The project as a package (pyproject.toml): every package listed, the console scripts, the requirements split,
and the data the services read at run time (migrations, the bot's catalogs) found from a checkout and from an
installed wheel."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
NOT_PACKAGED = {"tests", "bench"}


def repository_packages() -> set[str]:
    top = {p.parent.name for p in ROOT.glob("*/__init__.py")} - NOT_PACKAGED
    return {
        ".".join(init.parent.relative_to(ROOT).parts) for name in top for init in (ROOT / name).rglob("__init__.py")
    }


def pins(path: Path) -> dict[str, str]:
    """name → version of the ``name==version`` lines of a requirements file."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==")
            found[name.strip()] = version.strip()
    return found


def test_every_package_of_the_repository_is_listed():
    listed = set(SETUPTOOLS["packages"])
    mapped = set(SETUPTOOLS.get("package-dir", {}))
    assert listed - mapped == repository_packages()
    assert SETUPTOOLS["package-dir"] == {"datemaker.migrations": "migrations"}


def test_package_data_covers_the_migrations_the_catalogs_and_the_mini_app():
    def covered(package: str) -> set[Path]:
        base = ROOT / SETUPTOOLS["package-dir"].get(package, package.replace(".", "/"))
        return {path for pattern in SETUPTOOLS["package-data"][package] for path in base.glob(pattern)}

    migrations = set((ROOT / "migrations").glob("*.sql"))
    assert migrations and covered("datemaker.migrations") == migrations
    catalogs = {p for p in (ROOT / "chathub_bot" / "locales").rglob("*") if p.suffix in (".po", ".mo", ".pot")}
    assert {p.suffix for p in catalogs} == {".po", ".mo", ".pot"}
    page = set((ROOT / "chathub_bot" / "webapp" / "static").iterdir())
    assert {p.name for p in page} >= {"index.html", "app.js", "app.css"}
    assert covered("chathub_bot") == catalogs | page


def test_migrations_are_found_in_a_checkout_and_in_an_installed_package(tmp_path):
    from datemaker.adapters.postgres.migrate import MIGRATIONS_DIR, migrations_dir

    assert MIGRATIONS_DIR == ROOT / "migrations"
    installed = tmp_path / "site-packages" / "datemaker"
    (installed / "migrations").mkdir(parents=True)
    assert migrations_dir(installed) == installed / "migrations"


@pytest.mark.parametrize(("script", "module"), [("datemaker", "datemaker"), ("chathub-bot", "chathub_bot")])
def test_console_scripts_run_the_mains(script, module):
    assert PYPROJECT["project"]["scripts"][script] == f"{module}.__main__:main"
    main = __import__(f"{module}.__main__", fromlist=["main"]).main
    signature = inspect.signature(main)
    assert list(signature.parameters) == ["argv"] and signature.parameters["argv"].default is None
    assert signature.return_annotation in (int, "int")
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    installed = Path(sys.executable).parent / script
    if not installed.exists():
        pytest.skip(f"{script} is not installed in this environment (make venv installs it)")
    result = subprocess.run([str(installed), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr


def test_a_run_ends_in_an_exit_code(capsys):
    from chathub_common.cli import exit_code

    def interrupted() -> int:
        raise KeyboardInterrupt

    def unreachable() -> int:
        raise ConnectionRefusedError("RabbitMQ at 127.0.0.1:5672 refused the connection")

    assert exit_code("datemaker", lambda: 3) == 3
    assert exit_code("datemaker", interrupted) == 130
    assert exit_code("datemaker", unreachable) == 1
    assert capsys.readouterr().err == "datemaker: RabbitMQ at 127.0.0.1:5672 refused the connection\n"


def test_dev_requirements_add_the_tools_to_the_runtime_ones():
    """(That requirements.txt, which the image installs, has no tool: tests/unit/test_docker_files.py.)"""
    runtime, dev = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-dev.txt")
    assert (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines().count("-r requirements.txt") == 1
    assert {"pytest", "pytest-asyncio", "pytest-timeout", "hypothesis", "ruff", "python-hcl2"} <= set(dev)
    assert not set(runtime) & set(dev), "a pin in both files"
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}


def test_a_built_wheel_carries_the_data_and_finds_it(tmp_path):
    """Build the wheel (pip, as `make venv` builds the editable install), unpack it as site-packages, and
    read the migrations and the catalogs from there, away from the repository."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "requirements.txt"):
        shutil.copy(ROOT / name, source / name)
    for name in [*{p.split(".")[0] for p in SETUPTOOLS["packages"]}, "migrations"]:
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = tmp_path.glob("chathub-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"datemaker/migrations/{p.name}" for p in (ROOT / "migrations").glob("*.sql")} <= names
    assert {"chathub_bot/locales/ru/LC_MESSAGES/messages.mo", "chathub_bot/locales/en/LC_MESSAGES/messages.mo"} <= names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "migrations/"))]

    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "from datemaker.adapters.postgres import migrate; from chathub_bot import i18n; "
        "print(migrate.MIGRATIONS_DIR); print(len(migrate.load_migrations())); print(i18n.LOCALES_DIR); "
        "print(i18n.build_i18n().gettext('Your profile is saved!', locale='ru'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    migrations, count, locales, translated = result.stdout.splitlines()
    assert Path(migrations) == site / "datemaker" / "migrations"
    assert int(count) == len(list((ROOT / "migrations").glob("*.up.sql")))
    assert Path(locales) == site / "chathub_bot" / "locales" and translated != "Your profile is saved!"
