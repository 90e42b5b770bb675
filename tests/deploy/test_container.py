"""deploy/Dockerfile and deploy/docker-compose.yml, checked statically (no Docker engine on CI)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from proxy.settings import Settings
from tests.deploy.terraform_model import ROOT, load_terraform

DEPLOY = ROOT / "deploy"
# Standard AWS SDK variables the local stack sets besides the gateway's own settings.
AWS_SDK_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"}
PINNED_IMAGE = re.compile(r"^[\w./-]+(:(?!latest\b)[\w.-]*\d[\w.-]*)(@sha256:[0-9a-f]{64})?$")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += " " + stripped.removesuffix("\\") if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            joined.append(current.strip())
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in joined]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(DEPLOY / "Dockerfile")


def final_stage(dockerfile: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (op, _) in enumerate(dockerfile) if op == "FROM")
    return dockerfile[last_from:]


def test_multi_stage_with_pinned_bases(dockerfile: list[tuple[str, str]]) -> None:
    bases = [args.split()[0] for op, args in dockerfile if op == "FROM"]
    assert len(bases) >= 2
    for base in bases:
        assert PINNED_IMAGE.match(base), f"base image not pinned to an exact version: {base}"
        assert re.search(r":\d+\.\d+\.\d+", base) or "@sha256:" in base


def test_runs_as_non_root(dockerfile: list[tuple[str, str]]) -> None:
    stage = final_stage(dockerfile)
    users = [(i, args.strip()) for i, (op, args) in enumerate(stage) if op == "USER"]
    assert users, "no USER in the final stage"
    last_index, user = users[-1]
    assert user.split(":")[0] not in {"root", "0"}
    cmd_index = max(i for i, (op, _) in enumerate(stage) if op == "CMD")
    assert last_index < cmd_index


def test_user_matches_the_ecs_task_definition(dockerfile: list[tuple[str, str]]) -> None:
    user = [args.strip() for op, args in final_stage(dockerfile) if op == "USER"][-1]
    assert load_terraform().locals["container"]["user"] == user


def test_healthcheck_hits_health_without_curl(dockerfile: list[tuple[str, str]]) -> None:
    checks = [args for op, args in final_stage(dockerfile) if op == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/health" in checks[0] and "urllib" in checks[0] and "curl" not in checks[0]


def test_cmd_serves_on_all_interfaces(dockerfile: list[tuple[str, str]]) -> None:
    (cmd,) = [args for op, args in final_stage(dockerfile) if op == "CMD"]
    assert json.loads(cmd) == ["llm-gateway", "serve", "--host", "0.0.0.0"]


def test_env_names_are_known_settings(dockerfile: list[tuple[str, str]]) -> None:
    known = set(Settings.env_names())
    for op, args in dockerfile:
        if op == "ENV":
            for name in re.findall(r"(\w+)=", args):
                if name.startswith(("LLM_GATEWAY_", "AWS_")) or name in {"WEB_CONCURRENCY", "REDIS_URL"}:
                    assert name in known, name


def test_no_aws_calls_or_credentials_at_build(dockerfile: list[tuple[str, str]]) -> None:
    for op, args in dockerfile:
        if op == "RUN":
            assert not re.search(r"\baws\b|boto3|AWS_", args), args
        if op in {"ARG", "ENV"}:
            assert "AWS_ACCESS_KEY_ID" not in args and "AWS_SECRET_ACCESS_KEY" not in args


def test_dockerignore_is_an_allow_list() -> None:
    lines = [ln.strip() for ln in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()]
    rules = [ln for ln in lines if ln and not ln.startswith("#")]
    assert rules[0] == "*"
    assert {"!pyproject.toml", "!proxy/", "!translators/", "!bedrock_emulator/"} <= set(rules)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_services(compose: dict) -> None:
    assert set(compose["services"]) == {"gateway", "redis", "dynamodb", "bedrock-emulator", "tables"}


def test_compose_images_are_pinned(compose: dict) -> None:
    for name, service in compose["services"].items():
        assert PINNED_IMAGE.match(service["image"]) or "build" in service, name
        if "build" in service:
            context = (DEPLOY / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_compose_env_names_are_known(compose: dict) -> None:
    known = set(Settings.env_names()) | AWS_SDK_ENV
    for name, service in compose["services"].items():
        unknown = set(service.get("environment", {})) - known
        assert not unknown, f"{name}: {unknown}"


def test_compose_wires_the_gateway_to_local_services(compose: dict) -> None:
    services = compose["services"]
    env = services["gateway"]["environment"]
    assert env["LLM_GATEWAY_STORE"] == "dynamodb"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://dynamodb:5000"
    assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == "http://bedrock-emulator:8089"
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert services["bedrock-emulator"]["command"][:2] == ["llm-gateway", "emulator"]
    assert "8089" in services["bedrock-emulator"]["command"]
    assert services["tables"]["command"] == ["llm-gateway", "tables", "create"]
    assert services["tables"]["environment"]["AWS_ENDPOINT_URL_DYNAMODB"] == env["AWS_ENDPOINT_URL_DYNAMODB"]
    depends = services["gateway"]["depends_on"]
    assert depends["tables"]["condition"] == "service_completed_successfully"
    assert {"redis", "bedrock-emulator"} <= set(depends)
