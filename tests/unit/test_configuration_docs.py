"""docs/configuration.md is generated from proxy/settings.py and must stay in step with it and .env.example."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from proxy.cli.config_docs import configuration_markdown, render_default, settings_groups
from proxy.cli.main import main
from proxy.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION_MD = ROOT / "docs" / "configuration.md"


def env_example_names() -> list[str]:
    names: list[str] = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line.split("=", 1)[0])
    return names


def test_configuration_md_is_generated_from_settings() -> None:
    assert CONFIGURATION_MD.read_text() == configuration_markdown(), (
        "docs/configuration.md is out of date with proxy/settings.py: run `make docs`"
    )


def test_every_setting_has_a_doc_and_a_row() -> None:
    text = CONFIGURATION_MD.read_text()
    for f in dataclasses.fields(Settings):
        assert str(f.metadata.get("doc", "")).strip(), f"Settings.{f.name} needs a doc= string in proxy/settings.py"
        assert f"| `{f.metadata['env']}` |" in text, f"{f.metadata['env']} is missing from docs/configuration.md"


def test_every_setting_is_in_exactly_one_group() -> None:
    grouped = [f.name for group in settings_groups() for f in group.fields]
    assert sorted(grouped) == sorted(f.name for f in dataclasses.fields(Settings)), (
        "every Settings field must sit under a '# --- group ---' header in proxy/settings.py"
    )
    assert len(grouped) == len(set(grouped))


def test_a_field_before_any_group_header_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    source = "class Settings:\n    host: str = _env('LLM_GATEWAY_HOST', '127.0.0.1')\n    # --- server ---\n"
    monkeypatch.setattr(inspect, "getsource", lambda obj: source)
    with pytest.raises(ValueError, match="host"):
        settings_groups()


def test_documented_names_are_exactly_those_of_env_example() -> None:
    documented = [f.metadata["env"] for group in settings_groups() for f in group.fields]
    assert sorted(documented) == sorted(env_example_names())


@pytest.mark.parametrize(
    ("value", "rendered"),
    [(None, "unset"), (True, "`true`"), (False, "`false`"), ((50.0, 80.0, 100.0), "`50, 80, 100`"),
     (10.0, "`10`"), (8080, "`8080`"), ("var/spool", "`var/spool`")],
)
def test_defaults_are_readable(value: object, rendered: str) -> None:
    assert render_default(value) == rendered


def test_cli_prints_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config-docs"]) == 0
    assert capsys.readouterr().out == configuration_markdown()
