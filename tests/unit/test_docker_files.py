"""Checks of the container files without a Docker engine: docker/Dockerfile, docker/compose.yaml, the
Prometheus and Grafana configuration, .dockerignore and the two .env.example files.

promtool (Debian package ``prometheus``) validates the Prometheus config and the dashboard's queries
when it is installed; those checks skip otherwise.
"""

from __future__ import annotations

import getpass
import http.server
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support import protocol
from tests.unit.test_protocol_doc import NOT_BUILT_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
PROMETHEUS_CONFIG = DOCKER / "prometheus" / "prometheus.yml"
GRAFANA = DOCKER / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

PRODUCT_PACKAGES = ("contracts", "chathub_common", "datemaker", "chathub_bot")
"""What the image runs (with migrations/ and the entrypoint and healthcheck scripts)."""
NOT_IN_IMAGE = ("chathub_sim", "tests", "bench", "terraform", "requirements-dev.txt")
TEST_TOOLS = re.compile(r"^(pytest|pytest[-_][\w.-]+|hypothesis|ruff|python[-_]hcl2)\s*([=<>!~;\[#]|$)", re.IGNORECASE)
"""A requirement line naming a test or lint tool."""

SERVICES = {"postgres", "rabbitmq", "migrate", "datemaker", "bot", "prometheus", "grafana", "caddy"}
CHATHUB_SERVICES = ("migrate", "datemaker", "bot")
"""The services that run the project's own image (built from docker/Dockerfile)."""
METRICS_PORTS = {"datemaker": 9101, "bot": 9102}

DASHBOARD_METRICS = {
    "chathub_bot_messages_held",
    "chathub_messages_deferred_total",
    "chathub_bot_messages_dead_lettered_total",
    "chathub_telegram_undeliverable_total",
    "chathub_meet_spaces_created_total",
    "chathub_dates_link_delayed_total",
    "chathub_dates_reusing_space_total",
    "chathub_events_spaces_at_risk",
    "chathub_bot_messages_expired_total",
    "chathub_telegram_paid_broadcasts_total",
    "chathub_commands_processed_total",
    "chathub_command_duration_seconds",
    "chathub_messages_dead_lettered_total",
    "chathub_queue_messages",
    "chathub_events",
    "chathub_active_conferences",
    "chathub_round_start_lateness_seconds",
    "chathub_meet_calls_total",
    "chathub_telegram_sends_total",
    "chathub_telegram_retry_after_total",
    "chathub_bot_outbox_messages",
    "chathub_funnel_participants_total",
    "chathub_events_created_total",
    "chathub_waitlist_offers_total",
    "chathub_organizer_alerts_total",
    "chathub_webapp_requests_total",
    "chathub_webapp_request_duration_seconds",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
}
"""The metrics the dashboard must show, and the only ones it may query."""
HISTOGRAMS = {
    "chathub_command_duration_seconds",
    "chathub_round_start_lateness_seconds",
    "chathub_webapp_request_duration_seconds",
}

PROTOCOL_VARIABLES = sorted(protocol.variables() - NOT_BUILT_VARIABLES)
"""docs/protocol.md section 1, less what is not built yet."""


# --- helpers --------------------------------------------------------------------------------------


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` (nested) and ``$$`` against ``env`` (empty: the defaults)."""
    env = env or {}
    out: list[str] = []
    i = 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if j >= len(value):
                    raise ValueError(f"unclosed ${{ in {value!r}")
                if value.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                if value[j] == "}":
                    depth -= 1
                j += 1
            match = re.fullmatch(r"([A-Za-z_]\w*)(?::-(.*))?", value[i + 2 : j - 1], re.DOTALL)
            if not match:
                raise ValueError(f"unsupported interpolation in {value!r}")
            name, default = match.groups()
            out.append(env.get(name) or (interpolate(default, env) if default is not None else ""))
            i = j
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def command_of(service: dict) -> list[str]:
    command = service.get("command")
    return command.split() if isinstance(command, str) else list(command or [])


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile: continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) per line of .dockerignore, in order (Go filepath.Match plus ``**``)."""
    rules = []
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip().lstrip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negated, re.compile(regex.rstrip("/") + "$")))
    return rules


def dockerignored(path: str) -> bool:
    """Whether ``path`` (relative to the repository root) is left out of the build context."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for negated, regex in dockerignore_rules():
        if any(regex.match(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


_PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def promql_metrics(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (functions, keywords, labels and strings excluded)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", text):
        name = match.group()
        if name.lower() in _PROMQL_WORDS or re.match(r"\s*\(", text[match.end() :]):
            continue
        names.add(name)
    return names


def base_metric(name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS:
            return name.removesuffix(suffix)
    return name


def dashboard_panels(dashboard: dict) -> Iterator[dict]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # panels of collapsed rows


def dashboard_expressions(dashboard: dict) -> list[str]:
    return [target["expr"] for panel in dashboard_panels(dashboard) for target in panel.get("targets", [])]


def for_promtool(expr: str) -> str:
    """A dashboard query with Grafana's interval variables replaced so that promtool can parse it."""
    return re.sub(r"\$\{?__(?:rate_interval|interval|range)\}?", "5m", expr)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian: apt-get install -y prometheus); Prometheus check skipped")
    return path


# --- compose ----------------------------------------------------------------------------------------


def test_compose_parses_and_has_every_service():
    compose = load_compose()
    assert set(compose["services"]) >= SERVICES
    for name in SERVICES:
        service = compose["services"][name]
        assert service.get("image") or service.get("build"), f"{name} has neither image nor build"


def test_chathub_services_run_the_one_image_with_the_env_file():
    compose = load_compose()
    images = set()
    for name in CHATHUB_SERVICES:
        service = compose["services"][name]
        build = service["build"]
        assert (COMPOSE_FILE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        images.add(service["image"])
        env_files = service["env_file"]
        env_files = [env_files] if isinstance(env_files, str | dict) else env_files
        paths = [entry if isinstance(entry, str) else entry["path"] for entry in env_files]
        assert ".env" in paths, f"{name} does not read docker/.env"
    assert len(images) == 1, f"the Chathub services should share one image, not {images}"


def test_docker_env_file_is_ignored_by_git_and_has_an_example():
    assert (DOCKER / ".env.example").is_file()
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")

    def ignored(path: str) -> bool:
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False, capture_output=True)
        assert result.returncode in (0, 1), result.stderr
        return result.returncode == 0

    assert ignored("docker/.env") and ignored(".env"), "secrets files must be ignored by git"
    assert not ignored("docker/.env.example") and not ignored(".env.example")


@pytest.fixture(scope="module")
def datemaker_help() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "datemaker", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def datemaker_subcommands(help_text: str) -> set[str]:
    return set(re.findall(r"^ {4}([a-z][\w-]*)(?:\s|$)", help_text, re.MULTILINE))


@pytest.mark.parametrize("name", CHATHUB_SERVICES)
def test_service_command_names_a_module_of_the_repository(name, datemaker_help):
    command = command_of(load_compose()["services"][name])
    assert command[:2] == ["python", "-m"], f"{name}: {command} does not run a module"
    module = command[2]
    package = ROOT / module.replace(".", "/")
    assert package.is_dir() or package.with_suffix(".py").is_file(), f"{name}: no module {module} in the repository"
    if package.is_dir() and not (package / "__main__.py").is_file():
        if module == "chathub_bot":
            pytest.xfail(
                "chathub_bot/__main__.py is not written yet (the bot is being written); the check runs once it is"
            )
        pytest.fail(f"{name}: {module} has no __main__.py")
    if module == "datemaker":
        subcommand = command[3]
        assert subcommand in datemaker_subcommands(datemaker_help), (
            f"{name}: `python -m datemaker --help` does not list {subcommand!r}"
        )


def test_datemaker_help_lists_serve_and_migrate(datemaker_help):
    assert {"serve", "migrate"} <= datemaker_subcommands(datemaker_help)


def test_start_order_migration_first():
    services = load_compose()["services"]
    for name in ("datemaker", "bot"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"].get("restart", "no") == "no"
    for name in ("postgres", "rabbitmq"):
        assert services[name]["healthcheck"]["test"], f"{name} needs a healthcheck"


def test_bot_runs_as_a_single_replica():
    bot = load_compose()["services"]["bot"]
    assert bot.get("deploy", {}).get("replicas", 1) == 1
    assert "container_name" not in bot or bot.get("scale", 1) == 1


def test_databases_start_alone_on_localhost_with_the_services_defaults():
    """``docker compose -f docker/compose.yaml up -d postgres rabbitmq`` gives what datemaker expects by default."""
    from datemaker.config import Settings

    services = load_compose()["services"]
    defaults = Settings.model_fields
    postgres, rabbitmq = services["postgres"], services["rabbitmq"]
    for service in (postgres, rabbitmq):
        assert not service.get("depends_on"), "the databases must start on their own"
        assert not service.get("env_file"), "the databases must start without docker/.env"
    assert postgres["image"].split(":")[1].startswith("16")
    assert any(str(port).endswith(":5432:5432") or str(port) == "5432:5432" for port in postgres["ports"])
    assert any(str(port).endswith(":5672:5672") or str(port) == "5672:5672" for port in rabbitmq["ports"])
    assert any("postgresql/data" in volume for volume in postgres["volumes"]), "postgres needs a data volume"

    pg_env = environment_of(postgres)
    if pg_env.get("POSTGRES_HOST_AUTH_METHOD") != "trust":
        password = interpolate(pg_env.get("POSTGRES_PASSWORD", ""))
        assert password in ((DOCKER / ".env.example").read_text() + (ROOT / ".env.example").read_text()), (
            "a PostgreSQL password must be documented in an .env.example"
        )
    # The role is the developer's login name, which is datemaker's default role.
    login = getpass.getuser()
    assert interpolate(pg_env["POSTGRES_USER"], {"USER": login}) == login
    assert interpolate(pg_env["POSTGRES_DB"]) == defaults["postgres_db"].default

    mq_env = environment_of(rabbitmq)
    assert interpolate(mq_env.get("RABBITMQ_DEFAULT_USER", "guest")) == defaults["datemaker_rabbitmq_username"].default
    assert interpolate(mq_env.get("RABBITMQ_DEFAULT_PASS", "guest")) == defaults["datemaker_rabbitmq_password"].default


def test_rabbitmq_has_the_prometheus_plugin():
    rabbitmq = load_compose()["services"]["rabbitmq"]
    assert re.fullmatch(r"rabbitmq:3\.13[\w.-]*-management[\w.-]*", rabbitmq["image"]), rabbitmq["image"]
    mounts = {
        volume.split(":")[1]: (COMPOSE_FILE.parent / volume.split(":")[0]).resolve()
        for volume in rabbitmq["volumes"]
        if volume.startswith(".")
    }
    plugins_file = mounts["/etc/rabbitmq/enabled_plugins"]
    assert plugins_file.parent == DOCKER / "rabbitmq"
    plugins = plugins_file.read_text().strip()
    assert re.fullmatch(r"\[[\w,\s]*\]\.", plugins), f"enabled_plugins is not an Erlang list: {plugins!r}"
    assert "rabbitmq_prometheus" in plugins and "rabbitmq_management" in plugins
    for target, source in mounts.items():
        assert source.exists(), f"{target} is mounted from a missing file {source}"


def test_app_services_are_wired_to_the_compose_network():
    from datemaker.config import Settings

    services = load_compose()["services"]
    datemaker_fields = {name.upper() for name in Settings.model_fields}
    for name in ("migrate", "datemaker"):
        env = environment_of(services[name])
        assert env["POSTGRES_HOST"] == "postgres" and env["RABBITMQ_HOST"] == "rabbitmq"
        assert env["DATEMAKER_POSTGRES_USER"] == environment_of(services["postgres"])["POSTGRES_USER"]
        assert set(env) <= datemaker_fields, f"{name}: unknown settings {set(env) - datemaker_fields}"
    bot_env = environment_of(services["bot"])
    assert bot_env["RABBITMQ_HOST"] == "rabbitmq"
    try:
        from chathub_bot.config import BotSettings
    except ImportError:
        pass
    else:
        bot_fields = {name.upper() for name in BotSettings.model_fields}
        assert set(bot_env) <= bot_fields, f"bot: unknown settings {set(bot_env) - bot_fields}"
    for name, port in METRICS_PORTS.items():
        assert environment_of(services[name]).get("METRICS_PORT", str(port)) == str(port)
    # Both services use the broker account the rabbitmq container creates.
    mq_env = environment_of(services["rabbitmq"])
    assert environment_of(services["datemaker"])["DATEMAKER_RABBITMQ_USERNAME"] == mq_env["RABBITMQ_DEFAULT_USER"]
    assert bot_env["TG_BOT_RABBITMQ_USERNAME"] == mq_env["RABBITMQ_DEFAULT_USER"]
    assert bot_env["TG_BOT_RABBITMQ_PASSWORD"] == mq_env["RABBITMQ_DEFAULT_PASS"]


def test_compose_mounts_exist():
    for name, service in load_compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name} mounts a missing {source}"


# --- Dockerfile and build context ---------------------------------------------------------------------


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck():
    instructions = dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    stage = final_stage(instructions)
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users, "the final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0", ""), f"the image runs as {users[-1]}"
    healthchecks = [arguments for keyword, arguments in stage if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "NONE" not in healthchecks[0].upper()
    assert "chathub-healthcheck" in healthchecks[0]


def test_dockerfile_builds_python_311_slim_from_requirements():
    instructions = dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    arguments = dict(arg.split("=", 1) for keyword, arg in instructions if keyword == "ARG" and "=" in arg)
    images = [interpolate(arg.split()[0], arguments) for keyword, arg in instructions if keyword == "FROM"]
    assert all(re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*", image) for image in images), images
    runs = " ".join(arg for keyword, arg in instructions if keyword == "RUN")
    assert re.search(r"pip install .*-r \S*requirements\.txt", runs)
    cmd = [arg for keyword, arg in final_stage(instructions) if keyword == "CMD"][-1]
    assert json.loads(cmd) == ["python", "-m", "datemaker", "serve"]


def test_dockerfile_copies_only_what_the_context_has():
    for keyword, arguments in dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword != "COPY" or "--from=" in arguments:
            continue
        *sources, _destination = [part for part in arguments.split() if not part.startswith("--")]
        for source in sources:
            if source == ".":
                continue
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
            assert not dockerignored(source), f"COPY {source}: excluded by .dockerignore"


def test_healthcheck_script_uses_urllib_on_metrics_port():
    script = (DOCKER / "healthcheck.py").read_text(encoding="utf-8")
    assert "urllib.request" in script and "/healthz" in script and "METRICS_PORT" in script


def test_dockerignore_keeps_secrets_out_and_code_in():
    for secret in (".env", "docker/.env", "creds.json", "token.json", "datemaker/token.json", ".git", ".venv"):
        assert dockerignored(secret), f"{secret} would be sent to the Docker build"
    needed = ["requirements.txt", "migrations", "docker/entrypoint.sh", "docker/healthcheck.py", *PRODUCT_PACKAGES]
    for path in needed:
        assert not dockerignored(path), f"{path} is needed in the image but .dockerignore leaves it out"
    for path in NOT_IN_IMAGE:
        assert dockerignored(path), f"{path} is not needed in the image but .dockerignore sends it to the build"


def copied_sources(instructions: list[tuple[str, str]]) -> list[str]:
    """The build-context paths COPY and ADD take (not those of ``--from`` another stage), normalized."""
    sources = []
    for keyword, arguments in instructions:
        if keyword not in ("COPY", "ADD") or "--from=" in arguments:
            continue
        parts = json.loads(arguments) if arguments.startswith("[") else arguments.split()
        *paths, _destination = [part for part in parts if not part.startswith("--")]
        sources += [os.path.normpath(path).lstrip("/") for path in paths]
    return sources


def test_image_copies_only_what_runs():
    """No simulator, test, benchmark or infrastructure code in the image: never named in a COPY, never
    reachable through a COPY of the whole context (or a wildcard), never in the build context at all."""
    sources = copied_sources(dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")))
    for source in sources:
        for path in NOT_IN_IMAGE:
            if source in (".", "") or any(char in source for char in "*?["):
                assert dockerignored(path), f"COPY {source} would put {path} in the image"
            else:
                inside = source == path or source.startswith(path + "/") or path.startswith(source + "/")
                assert not inside, f"COPY {source} puts {path} in the image"
    for needed in (*PRODUCT_PACKAGES, "migrations"):
        assert needed in sources, f"the image does not copy {needed}"


def test_image_installs_the_runtime_requirements_only():
    """The only pip install in the image is ``-r`` of a requirements.txt the build copied from requirements.txt:
    no requirements-dev.txt, no package named on the command line, no editable install of the project."""
    instructions = dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    copied = {}
    for keyword, arguments in instructions:
        if keyword == "COPY" and "--from=" not in arguments:
            *paths, destination = [part for part in arguments.split() if not part.startswith("--")]
            copied[destination] = paths
    installs = [arguments for keyword, arguments in instructions if keyword == "RUN" and "install" in arguments]
    assert installs, "the image installs no requirements"
    for command in (part for arguments in installs for part in re.split(r"&&|;|\|\|", arguments)):
        words = command.split()
        if "pip" not in " ".join(words[:3]) or "install" not in words:
            assert not re.search(r"\b(uv|poetry|pipx|conda)\b", command), f"an installer other than pip: {command}"
            continue
        arguments = words[words.index("install") + 1 :]
        files = [arguments[i + 1] for i, word in enumerate(arguments) if word in ("-r", "--requirement")]
        others = [
            word
            for i, word in enumerate(arguments)
            if not word.startswith("-") and not (i and arguments[i - 1] in ("-r", "--requirement"))
        ]
        assert not others and "-e" not in arguments and "--editable" not in arguments, f"RUN {command}"
        assert files, f"RUN {command} installs no requirements file"
        for path in files:
            assert copied.get(path) == ["requirements.txt"], (
                f"RUN {command}: {path} is not the runtime requirements.txt"
            )
    runtime = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    tools = [line for line in runtime if TEST_TOOLS.match(line.strip())]
    assert not tools, f"requirements.txt (what the image installs) pins test tools: {tools}"
    assert not [line for line in runtime if line.strip().startswith("-")], "requirements.txt must only pin packages"


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_healthcheck(port: int) -> int:
    env = {**os.environ, "METRICS_PORT": str(port)}
    script = DOCKER / "healthcheck.py"
    return subprocess.run([sys.executable, str(script)], env=env, timeout=30, check=False).returncode


def test_healthcheck_script_reports_health(health_server, monkeypatch):
    port = health_server.server_address[1]
    assert run_healthcheck(port) == 0
    monkeypatch.setattr(_Health, "status", 503)
    assert run_healthcheck(port) == 1


def test_healthcheck_script_fails_when_nothing_listens(health_server):
    port = health_server.server_address[1]
    health_server.shutdown()
    health_server.server_close()
    assert run_healthcheck(port) == 1


def test_entrypoint_writes_meet_secrets_to_their_files(tmp_path):
    if shutil.which("sh") is None:
        pytest.skip("no POSIX shell")
    token_file = tmp_path / "state" / "token.json"
    env = {
        **os.environ,
        "MEET_TOKEN_JSON": '{"refresh_token": "r"}',
        "MEET_TOKEN_FILE": str(token_file),
        "MEET_CREDS_FILE": str(tmp_path / "creds.json"),
    }
    env.pop("MEET_CREDS_JSON", None)
    probe = "import os, sys; sys.stdout.write(os.environ.get('MEET_TOKEN_JSON', '<unset>'))"
    result = subprocess.run(
        ["sh", str(DOCKER / "entrypoint.sh"), sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout == "<unset>", "the JSON secret should not reach the service's environment"
    assert json.loads(token_file.read_text()) == {"refresh_token": "r"}
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert not (tmp_path / "creds.json").exists(), "an unset variable must leave its file alone"


# --- the Mini App over HTTPS (Caddy) ---------------------------------------------------------------


def caddy_sites() -> dict[str, str]:
    """Site address → its block, of docker/caddy/Caddyfile (tabs or spaces; global options block ignored)."""
    text = (DOCKER / "caddy" / "Caddyfile").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    sites, depth, address, body = {}, 0, "", []
    for line in text.splitlines():
        stripped = line.strip()
        if depth == 0 and stripped.endswith("{") and stripped != "{":
            address, body = stripped[:-1].strip(), []
        elif depth == 1 and stripped == "}":
            sites[address] = "\n".join(body)
        else:
            body.append(stripped)
        depth += stripped.count("{") - stripped.count("}")
    assert depth == 0, "unbalanced braces in the Caddyfile"
    return sites


def test_caddy_serves_the_mini_app_over_https_for_the_configured_domain():
    services = load_compose()["services"]
    caddy, bot = services["caddy"], services["bot"]
    assert caddy["image"].startswith("caddy:2")
    published = {str(port).split(":")[-2] if str(port).count(":") else str(port) for port in caddy["ports"]}
    assert {"80", "443"} <= {p.split("/")[0] for p in published}, "ACME and HTTPS need ports 80 and 443"
    mounts = {
        v.split(":")[1]: (COMPOSE_FILE.parent / v.split(":")[0]).resolve() for v in caddy["volumes"] if v[0] == "."
    }
    assert mounts["/etc/caddy/Caddyfile"] == DOCKER / "caddy" / "Caddyfile"
    assert any(v.split(":")[1] == "/data" for v in caddy["volumes"]), "certificates must outlive the container"
    assert interpolate(environment_of(caddy)["WEBAPP_DOMAIN"], {"WEBAPP_DOMAIN": "dating.example.org"}) == (
        "dating.example.org"
    )
    ((address, block),) = caddy_sites().items()
    assert address.startswith("{$WEBAPP_DOMAIN"), "the site is the domain from docker/.env"
    bot_env = environment_of(bot)
    assert bot_env["WEBAPP_HOST"] == "0.0.0.0", "Caddy reaches the bot over the Compose network"
    assert re.search(rf"reverse_proxy\s+bot:{bot_env['WEBAPP_PORT']}\b", block), block
    assert re.search(r"handle /app\*", block), "only the Mini App goes to the bot"
    assert "ports" not in bot or not any("8080" in str(port) for port in bot.get("ports", [])), "HTTPS only, via Caddy"
    assert interpolate(bot_env["WEBAPP_URL"]) == "", "no menu button until WEBAPP_URL is set"
    values, _ = env_example(DOCKER / ".env.example")
    assert {"WEBAPP_DOMAIN", "WEBAPP_URL"} <= set(values)
    assert "caddy" in (DOCKER / "compose.yaml").read_text() and "caddy-data" in load_compose()["volumes"]


# --- Prometheus -------------------------------------------------------------------------------------


def prometheus_targets() -> dict[str, list[str]]:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    return {
        job["job_name"]: [target for static in job.get("static_configs", []) for target in static["targets"]]
        for job in config["scrape_configs"]
    }


def test_prometheus_scrapes_both_services_and_rabbitmq():
    targets = {target for job in prometheus_targets().values() for target in job}
    assert {"datemaker:9101", "bot:9102", "rabbitmq:15692"} <= targets
    services = load_compose()["services"]
    for name, port in METRICS_PORTS.items():
        assert environment_of(services[name])["METRICS_PORT"] == str(port)
    mount = next(v for v in services["prometheus"]["volumes"] if v.startswith("."))
    assert (COMPOSE_FILE.parent / mount.split(":")[0]).resolve() == PROMETHEUS_CONFIG


def test_prometheus_config_passes_promtool():
    result = subprocess.run(
        [promtool(), "check", "config", "--syntax-only", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- Grafana ----------------------------------------------------------------------------------------


def test_grafana_datasource_and_dashboard_provisioning():
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    (prometheus,) = [d for d in datasources["datasources"] if d["type"] == "prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "chathub.yaml").read_text())
    grafana = load_compose()["services"]["grafana"]
    mounts = {
        v.split(":")[1]: (COMPOSE_FILE.parent / v.split(":")[0]).resolve() for v in grafana["volumes"] if v[0] == "."
    }
    for provider in providers["providers"]:
        assert mounts[provider["options"]["path"]] == GRAFANA / "dashboards"
    assert mounts["/etc/grafana/provisioning"] == GRAFANA / "provisioning"
    assert DASHBOARDS, "no dashboard JSON under docker/grafana/dashboards"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_dashboard_is_valid_json_on_the_provisioned_datasource(path):
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"]
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    uids = {d["uid"] for d in datasources["datasources"]}
    ids = [panel["id"] for panel in dashboard_panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard_panels(dashboard):
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} queries nothing"
        assert panel["datasource"]["uid"] in uids
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"]
            assert target.get("datasource", panel["datasource"])["uid"] in uids


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_dashboard_queries_exactly_the_listed_metrics(path):
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    used = {base_metric(name) for expr in dashboard_expressions(dashboard) for name in promql_metrics(expr)}
    assert used <= DASHBOARD_METRICS, f"unknown metrics on the dashboard: {sorted(used - DASHBOARD_METRICS)}"
    assert used >= DASHBOARD_METRICS, f"metrics without a panel: {sorted(DASHBOARD_METRICS - used)}"


def exported_metrics() -> set[str]:
    """Names of the metrics the services define (modules of the three packages that use prometheus_client)."""
    import importlib

    from prometheus_client.metrics import MetricWrapperBase

    names = set()
    for package in ("datemaker", "chathub_bot", "chathub_common"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "prometheus_client" not in path.read_text(encoding="utf-8"):
                continue
            module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
            for value in vars(module).values():
                if isinstance(value, MetricWrapperBase):
                    for family in value.describe():
                        names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def test_dashboard_metrics_are_exported_by_the_services():
    missing = {name for name in DASHBOARD_METRICS if not name.startswith("process_")} - exported_metrics()
    assert not missing, f"on the dashboard but not defined by any service: {sorted(missing)}"


def test_promql_metric_extraction():
    expr = 'histogram_quantile(0.99, sum by (le, job) (rate(a_seconds_bucket{job=~"x|y"}[$__rate_interval])))'
    assert promql_metrics(expr) == {"a_seconds_bucket"}
    assert promql_metrics("sum without (queue) (b) / on (job) group_left c offset 5m") == {"b", "c"}
    assert promql_metrics("rate(d_total[5m]) * 60 > bool 1e3") == {"d_total"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_dashboard_queries_pass_promtool(path, tmp_path):
    tool = promtool()
    expressions = dashboard_expressions(json.loads(path.read_text(encoding="utf-8")))
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{n}", "expr": for_promtool(e)} for n, e in enumerate(expressions)
                ],
            }
        ]
    }
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [tool, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- .env.example -------------------------------------------------------------------------------------


def env_example(path: Path) -> tuple[dict[str, str], set[str]]:
    """(variables set, variables only mentioned in a comment) of an .env.example file."""
    values: dict[str, str] = {}
    commented: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip()):
            values[match.group(1)] = match.group(2)
        elif match := re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=.*", line.strip()):
            commented.add(match.group(1))
    return values, commented


def test_env_example_lists_every_protocol_variable():
    values, commented = env_example(ROOT / ".env.example")
    missing = [name for name in PROTOCOL_VARIABLES if name not in values and name not in commented]
    assert not missing, f".env.example lacks {missing}"
    # Variables whose default depends on the machine or the service stay commented out.
    for name in ("DATEMAKER_POSTGRES_USER", "TG_BOT_TOKEN", "TG_API_BASE", "MEET_API_ENDPOINT", "METRICS_PORT"):
        assert name in commented, f"{name} has no single default: leave it commented in .env.example"


def test_env_example_defaults_are_datemakers_defaults():
    from datemaker.config import Settings

    values, _ = env_example(ROOT / ".env.example")
    fields = Settings.model_fields
    for name, value in values.items():
        field = fields.get(name.lower())
        if field is None or field.default_factory is not None:
            continue
        default = field.default
        expected = str(default).lower() if isinstance(default, bool) else str(default)
        assert value == expected, f"{name}={value} in .env.example, but datemaker's default is {default!r}"


# --- alerts and Redis -------------------------------------------------------------------------------------

ALERTS = DOCKER / "prometheus" / "alerts.yml"


def test_alert_rules_pass_promtool_and_are_loaded():
    result = subprocess.run(
        [promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    prometheus = load_compose()["services"]["prometheus"]
    [mounted] = [v.split(":")[1] for v in prometheus["volumes"] if v.startswith("./prometheus/alerts.yml")]
    assert config["rule_files"] == [mounted]


def test_the_alerts_fire_when_their_series_say_so_and_only_then():
    """promtool's rule tests (docker/prometheus/alerts.test.yml): each alert fires on the series it watches (a
    dead-letter queue not empty for a minute, an event at risk for five, a service down, Telegram unreachable,
    links expired, commands deferred, rounds late), silent before and after."""
    result = subprocess.run(
        [promtool(), "test", "rules", str(ALERTS.with_name("alerts.test.yml"))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {t["alertname"] for t in yaml.safe_load(ALERTS.with_name("alerts.test.yml").read_text())["tests"][0][
        "alert_rule_test"]}  # fmt: skip
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"][0]["rules"]
    assert tested == {rule["alert"] for rule in rules}, "every alert rule has its test"


def test_every_alert_watches_metrics_the_services_export():
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"][0]["rules"]
    for rule in rules:
        watched = {base_metric(name) for name in promql_metrics(rule["expr"])}
        assert watched, rule["alert"]
        ours = watched - {"up"}  # up: Prometheus's own, for each target it scrapes
        assert ours <= exported_metrics(), (rule["alert"], ours - exported_metrics())
    [risk] = [rule for rule in rules if rule["alert"] == "ChathubEventsAtRisk"]
    assert "meet-login --add" in risk["annotations"]["description"]


def test_an_alert_fires_for_a_dead_letter_queue_that_is_not_empty():
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"][0]["rules"]
    [dead] = [rule for rule in rules if rule["alert"] == "ChathubDeadLetters"]
    assert promql_metrics(dead["expr"]) <= exported_metrics() and "dead" in dead["expr"]
    assert "dead-letters replay" in dead["annotations"]["description"]


def test_the_bot_keeps_its_state_in_the_stacks_redis():
    services = load_compose()["services"]
    redis, bot = services["redis"], services["bot"]
    assert not redis.get("depends_on") and any(str(p).endswith(":6379:6379") for p in redis["ports"])
    assert environment_of(bot)["REDIS_URL"] == "redis://redis:6379/0"
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
