"""Static checks of terraform/ (providers cannot be downloaded here, so no `terraform validate`).

Every ``.tf`` file is parsed with python-hcl2; references are checked against the declarations:
``var.X``, ``local.X``, ``data.T.N``, ``module.N`` and provider resources ``T.N``. Then a few rules
of the deployment itself: the bot is one task that is never doubled during a deployment, every task
gets ``CHATHUB_ENV`` from ``var.environment``, secrets come from Secrets Manager, logs expire.
``terraform fmt -check`` runs when the terraform binary is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
TF_FILES = sorted(TERRAFORM.glob("*.tf"))
TFVARS_FILES = sorted((TERRAFORM / "environments").glob("*.tfvars"))
EXPECTED_FILES = (
    "versions.tf",
    "variables.tf",
    "outputs.tf",
    "network.tf",
    "database.tf",
    "broker.tf",
    "services.tf",
    "secrets.tf",
    "logs.tf",
)

OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


def parse(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


@cache
def configuration() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Block type -> [(file name, block body)] over every .tf file of the root module."""
    merged: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path in TF_FILES:
        for block_type, blocks in parse(path).items():
            for block in blocks:
                merged.setdefault(block_type, []).append((path.name, block))
    return merged


def blocks(block_type: str) -> list[dict[str, Any]]:
    return [block for _, block in configuration().get(block_type, [])]


def variables() -> dict[str, dict[str, Any]]:
    return {name: body for block in blocks("variable") for name, body in block.items()}


def locals_() -> dict[str, Any]:
    return {name: value for block in blocks("locals") for name, value in block.items()}


def labelled(block_type: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(type, name) -> body of the resource or data blocks."""
    return {
        (kind, name): body
        for block in blocks(block_type)
        for kind, named in block.items()
        for name, body in named.items()
    }


def resources() -> dict[tuple[str, str], dict[str, Any]]:
    return labelled("resource")


def outputs() -> dict[str, dict[str, Any]]:
    return {name: body for block in blocks("output") for name, body in block.items()}


def providers() -> set[str]:
    names = set()
    for block in blocks("terraform"):
        for required in block.get("required_providers", []):
            names.update(required)
    return names


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def expressions(value: Any) -> Iterator[str]:
    """The ``${...}`` expressions inside the strings of a parsed value (literal text is not code)."""
    for text in strings(value):
        start = text.find("${")
        while start != -1:
            depth, i = 1, start + 2
            while depth and i < len(text):
                if text.startswith("${", i):
                    depth, i = depth + 1, i + 2
                    continue
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            yield text[start + 2 : i - 1]
            start = text.find("${", i)


def references(value: Any) -> dict[str, set]:
    """Names referred to by a parsed value, by kind."""
    code = "\n".join(expressions(value))
    resource_pattern = rf"(?<![\w.])((?:{'|'.join(sorted(providers()))})_[a-z0-9_]+)\.([A-Za-z_][\w-]*)"
    return {
        "var": set(re.findall(r"\bvar\.([A-Za-z_][\w-]*)", code)),
        "local": set(re.findall(r"\blocal\.([A-Za-z_][\w-]*)", code)),
        "data": set(re.findall(r"\bdata\.([a-z][\w]*)\.([A-Za-z_][\w-]*)", code)),
        "module": set(re.findall(r"\bmodule\.([A-Za-z_][\w-]*)", code)),
        "resource": set(re.findall(resource_pattern, code)),
    }


def everything() -> list[tuple[str, Any]]:
    """(where, value) of every parsed block, for the reference checks."""
    return [(f"{name}: {block_type}", block) for block_type, found in configuration().items() for name, block in found]


def local_closure(names: set[str]) -> dict[str, set]:
    """References of the given locals, followed through the locals they use."""
    defined = locals_()
    seen: set[str] = set()
    found: dict[str, set] = {"var": set(), "data": set(), "module": set(), "resource": set()}
    pending = set(names)
    while pending:
        name = pending.pop()
        if name in seen or name not in defined:
            continue
        seen.add(name)
        refs = references(defined[name])
        pending |= refs["local"]
        for kind in found:
            found[kind] |= refs[kind]
    return found


# --- the files ------------------------------------------------------------------------------------


def test_every_file_parses_and_the_layout_is_the_agreed_one():
    assert TF_FILES, "no terraform files"
    for path in [*TF_FILES, *TFVARS_FILES]:
        parse(path)
    assert {"versions.tf", *EXPECTED_FILES} <= {path.name for path in TF_FILES}
    assert {path.name for path in TFVARS_FILES} == {"dev.tfvars", "prod.tfvars"}
    assert {"aws", "random"} >= providers() >= {"aws"}


def test_terraform_fmt_check():
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not installed; `terraform fmt -check` skipped")
    result = subprocess.run(
        [binary, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt would change files:\n{result.stdout}{result.stderr}"


# --- references -----------------------------------------------------------------------------------


def test_every_variable_used_is_declared():
    declared = set(variables())
    for where, block in everything():
        missing = references(block)["var"] - declared
        assert not missing, f"{where} uses undeclared variables {sorted(missing)}"


def test_every_local_used_is_defined():
    defined = set(locals_())
    for where, block in everything():
        missing = references(block)["local"] - defined
        assert not missing, f"{where} uses undefined locals {sorted(missing)}"


def test_every_resource_and_data_reference_is_declared():
    declared_resources = set(resources())
    declared_data = set(labelled("data"))
    declared_modules = {name for block in blocks("module") for name in block}
    for where, block in everything():
        refs = references(block)
        assert not refs["resource"] - declared_resources, (
            f"{where}: no such resources {refs['resource'] - declared_resources}"
        )
        assert not refs["data"] - declared_data, f"{where}: no such data sources {refs['data'] - declared_data}"
        assert not refs["module"] - declared_modules, f"{where}: no such modules {refs['module'] - declared_modules}"


def test_every_output_refers_to_declared_resources():
    found = outputs()
    assert found, "no outputs"
    declared = set(resources()) | {("data", *key) for key in labelled("data")}
    for name, body in found.items():
        assert body.get("description"), f"output {name} has no description"
        refs = references(body["value"])
        through_locals = local_closure(refs["local"])
        targets = refs["resource"] | through_locals["resource"]
        targets |= {("data", *key) for key in refs["data"] | through_locals["data"]}
        modules = refs["module"] | through_locals["module"]
        assert targets or modules, f"output {name} refers to no resource, data source or module"
        assert targets <= declared, f"output {name} refers to undeclared {targets - declared}"


def test_reference_scanner():
    refs = references({"a": "${aws_subnet.private[*].id} ${data.aws_region.here.name} ${var.x}-${local.y}"})
    assert refs["resource"] == {("aws_subnet", "private")}
    assert refs["data"] == {("aws_region", "here")}
    assert refs["var"] == {"x"} and refs["local"] == {"y"}
    assert references({"a": "literal var.not_code aws_vpc.not_code"}) == references({})


# --- variables and environments -------------------------------------------------------------------


def test_environment_is_validated_to_dev_or_prod():
    environment = variables()["environment"]
    conditions = " ".join(v["condition"] for v in environment.get("validation", []))
    assert "var.environment" in conditions
    assert set(re.findall(r'"(\w+)"', conditions)) == {"dev", "prod"}


@pytest.mark.parametrize("path", TFVARS_FILES, ids=lambda path: path.name)
def test_tfvars_set_only_declared_variables(path):
    values = parse(path)
    declared = variables()
    unknown = set(values) - set(declared)
    assert not unknown, f"{path.name} sets undeclared variables {sorted(unknown)}"
    assert values["environment"] == path.stem
    required = {name for name, body in declared.items() if "default" not in body}
    # image_tag is given on the command line at each deployment (-var image_tag=<git sha>).
    assert required - set(values) <= {"image_tag"}, (
        f"{path.name} lacks {sorted(required - set(values) - {'image_tag'})}"
    )
    for name, value in values.items():
        kind = declared[name].get("type", "")
        if kind == "number":
            assert isinstance(value, int | float) and not isinstance(value, bool), f"{name} should be a number"
        elif kind == "bool":
            assert isinstance(value, bool), f"{name} should be true or false"
        elif kind == "string":
            assert isinstance(value, str), f"{name} should be a string"


def test_broker_is_single_instance_in_dev_and_a_cluster_in_prod():
    defined = locals_()
    assert defined["is_prod"] == '${var.environment == "prod"}'
    assert defined["broker_deployment_mode"] == '${local.is_prod ? "CLUSTER_MULTI_AZ" : "SINGLE_INSTANCE"}'
    (broker,) = [body for (kind, _), body in resources().items() if kind == "aws_mq_broker"]
    assert broker["engine_type"] == "RabbitMQ"
    assert broker["deployment_mode"] == "${local.broker_deployment_mode}"
    assert broker["publicly_accessible"] is False


# --- services -------------------------------------------------------------------------------------


def ecs_services() -> dict[str, dict[str, Any]]:
    return {name: body for (kind, name), body in resources().items() if kind == "aws_ecs_service"}


def test_bot_is_one_task_never_two_at_once():
    bot = ecs_services()["bot"]
    assert bot["task_definition"] == "${aws_ecs_task_definition.bot.arn}"
    assert bot["desired_count"] == 1
    assert bot["deployment_maximum_percent"] == 100
    assert bot["deployment_minimum_healthy_percent"] == 0
    for (kind, name), body in resources().items():
        if kind == "aws_appautoscaling_target":
            assert "aws_ecs_service.bot" not in str(body), f"{name} would scale the bot"


def test_datemaker_replicas_are_configurable():
    datemaker = ecs_services()["datemaker"]
    assert datemaker["desired_count"] == "${var.datemaker_desired_count}"


def task_definitions() -> dict[str, dict[str, Any]]:
    return {name: body for (kind, name), body in resources().items() if kind == "aws_ecs_task_definition"}


def test_task_definitions_run_the_right_commands():
    commands = {name: body["container_definitions"] for name, body in task_definitions().items()}
    assert set(commands) == {"datemaker", "bot", "migrate"}
    assert '["python", "-m", "datemaker", "serve"]' in commands["datemaker"]
    assert '["python", "-m", "chathub_bot"]' in commands["bot"]
    assert '["python", "-m", "datemaker", "migrate"]' in commands["migrate"]
    for name, body in task_definitions().items():
        assert body["requires_compatibilities"] == ["FARGATE"], name
        assert "local.image" in commands[name], f"{name} does not run the ECR image"


def test_every_task_gets_chathub_env_from_the_environment_variable():
    defined = locals_()
    assert defined["common_environment"]["CHATHUB_ENV"] == "${var.environment}"
    for name, body in task_definitions().items():
        used = set(re.findall(r"local\.(\w+_environment)", body["container_definitions"]))
        assert used, f"task {name} sets no environment"
        for local_name in used:
            value = defined[local_name]
            assert local_name == "common_environment" or "local.common_environment" in str(value), (
                f"{local_name} (task {name}) does not include common_environment and so CHATHUB_ENV"
            )


def test_secrets_come_from_secrets_manager_and_never_from_plain_environment():
    defined = locals_()
    secret_resources = {name for (kind, name) in resources() if kind == "aws_secretsmanager_secret"}
    arns = defined["secret_arns"]
    assert {ref[1] for ref in references(arns)["resource"]} == secret_resources
    wanted = {
        "datemaker_secrets": {"DATEMAKER_POSTGRES_PASSWORD", "DATEMAKER_RABBITMQ_PASSWORD", "MEET_TOKEN_JSON"},
        "bot_secrets": {"TG_BOT_TOKEN", "TG_BOT_RABBITMQ_PASSWORD"},
        "migrate_secrets": {"DATEMAKER_POSTGRES_PASSWORD"},
    }
    for local_name, names in wanted.items():
        assert set(defined[local_name]) == names, local_name
        for value in defined[local_name].values():
            assert re.fullmatch(r"\$\{local\.secret_arns\.\w+\}", value), f"{local_name}: {value} is not a secret ARN"
    for name, body in task_definitions().items():
        secrets_used = re.findall(r"local\.(\w+_secrets)", body["container_definitions"])
        assert secrets_used, f"task {name} gets no secrets"
    for local_name, value in defined.items():
        if local_name.endswith("_environment"):
            text = str(value)
            assert not re.search(r"TOKEN|PASSWORD", text), f"{local_name} puts a secret in plain environment"
    execution_policy = labelled("data")[("aws_iam_policy_document", "execution_secrets")]
    assert "values(local.secret_arns)" in str(execution_policy)


def test_every_log_group_expires():
    groups = {name: body for (kind, name), body in resources().items() if kind == "aws_cloudwatch_log_group"}
    assert {"datemaker", "bot", "migrate"} <= set(groups)
    for name, body in groups.items():
        assert body.get("retention_in_days") == "${var.log_retention_days}", f"log group {name} keeps logs forever"
    log_retention = variables()["log_retention_days"]
    assert log_retention.get("validation"), "log_retention_days should be validated"


def test_one_ecr_repository_for_the_one_image():
    repositories = [name for (kind, name) in resources() if kind == "aws_ecr_repository"]
    assert len(repositories) == 1
    assert locals_()["image"].startswith(f"${{aws_ecr_repository.{repositories[0]}.repository_url}}")


def test_database_and_broker_are_private():
    for (kind, name), body in resources().items():
        if kind in ("aws_db_instance", "aws_mq_broker"):
            assert body["publicly_accessible"] is False, f"{kind}.{name} must not be public"
        if kind == "aws_db_instance":
            assert body["storage_encrypted"] is True


# --- the Mini App ---------------------------------------------------------------------------------


def test_the_mini_app_is_served_over_https_by_a_load_balancer_to_the_bot():
    found = resources()
    defined = locals_()
    port = defined["webapp_port"]
    assert port == 8080
    https = found[("aws_lb_listener", "webapp_https")]
    assert (https["port"], https["protocol"]) == (443, "HTTPS")
    assert https["certificate_arn"] == "${var.webapp_certificate_arn}" and "TLS13" in https["ssl_policy"]
    assert https["default_action"][0]["target_group_arn"] == "${aws_lb_target_group.webapp[0].arn}"
    redirect = found[("aws_lb_listener", "webapp_http")]["default_action"][0]
    assert redirect["type"] == "redirect" and redirect["redirect"][0]["protocol"] == "HTTPS"
    group = found[("aws_lb_target_group", "webapp")]
    assert group["port"] == "${local.webapp_port}" and group["target_type"] == "ip"
    assert group["health_check"][0]["path"] == "/app/"
    balancer = found[("aws_lb", "webapp")]
    assert balancer["internal"] is False and balancer["subnets"] == "${aws_subnet.public[*].id}"
    assert balancer["drop_invalid_header_fields"] is True
    # everything of it exists only with a certificate
    for key in [k for k in found if "webapp" in k[1]]:
        body = found[key]
        assert "local.webapp_enabled" in str(body.get("count", "")) + str(body.get("for_each", "")), key


def test_the_bot_takes_the_mini_apps_traffic_from_its_load_balancer_only():
    bot = ecs_services()["bot"]
    (dynamic,) = [block["load_balancer"] for block in bot["dynamic"] if "load_balancer" in block]
    assert dynamic["for_each"] == "${aws_lb_target_group.webapp}"
    (content,) = dynamic["content"]
    assert (content["container_name"], content["container_port"]) == ("bot", "${local.webapp_port}")
    environment = str(locals_()["bot_environment"])
    assert "WEBAPP_HOST" in environment and "0.0.0.0" in environment and "WEBAPP_PORT" in environment
    assert "WEBAPP_URL = local.webapp_url" in environment.replace('"', "") or "local.webapp_url" in environment
    assert "local.webapp_port" in task_definitions()["bot"]["container_definitions"]
    rule = resources()[("aws_vpc_security_group_ingress_rule", "services_webapp_from_lb")]
    assert rule["referenced_security_group_id"] == "${aws_security_group.webapp_lb[0].id}"
    assert rule["from_port"] == rule["to_port"] == "${local.webapp_port}"
    assert variables()["webapp_certificate_arn"]["default"] == "" and variables()["webapp_domain"]["default"] == ""
