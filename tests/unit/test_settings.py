from pathlib import Path

import pytest

from proxy.settings import ConfigError, Settings

ROOT = Path(__file__).resolve().parents[2]


def env_example_names() -> list[str]:
    names = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line.split("=", 1)[0])
    return names


def test_env_example_lists_exactly_the_settings() -> None:
    assert sorted(env_example_names()) == sorted(Settings.env_names())


def test_env_example_values_parse() -> None:
    environ = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            environ[name] = value
    settings = Settings.from_env(environ)
    assert settings == Settings.from_env({})


def test_defaults_are_embedded() -> None:
    settings = Settings.from_env({})
    assert settings.store == "sqlite" and settings.redis_url is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LLM_GATEWAY_PORT": "eighty"}, "LLM_GATEWAY_PORT"),
        ({"LLM_GATEWAY_STORE": "postgres"}, "LLM_GATEWAY_STORE"),
        ({"LLM_GATEWAY_DROP_UNSUPPORTED_PARAMS": "maybe"}, "LLM_GATEWAY_DROP_UNSUPPORTED_PARAMS"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(environ)
