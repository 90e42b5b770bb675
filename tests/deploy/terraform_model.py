"""deploy/terraform parsed with python-hcl2 into plain dicts the deploy tests can read.

python-hcl2 (v8) keeps HCL's quoting: block labels and string values come back as '"name"', and
expressions as '${...}'. ``unquote`` strips the quotes from literal strings and leaves expressions as
they are, so a test compares ``"PAY_PER_REQUEST"`` with a plain string and ``"${var.x}"`` with a
reference. No Terraform binary and no provider schemas are involved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "deploy" / "terraform"


def _is_marker(key: str) -> bool:
    return key.startswith("__") and key.endswith("__")


def unquote(value: Any) -> Any:
    """Strip HCL's quotes from keys and literal strings, recursively; drop python-hcl2's markers."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        return value
    if isinstance(value, list):
        return [unquote(item) for item in value]
    if isinstance(value, dict):
        # python-hcl2 adds markers such as __is_block__ and __comments__; they are not HCL.
        return {unquote(k): unquote(v) for k, v in value.items() if not _is_marker(k)}
    return value


@dataclass
class TerraformModel:
    """All .tf files of one directory merged by kind: resources, data sources, variables, ..."""

    files: dict[str, str] = field(default_factory=dict)  # file name -> raw text
    resources: dict[str, dict[str, dict]] = field(default_factory=dict)  # type -> name -> body
    data: dict[str, dict[str, dict]] = field(default_factory=dict)
    variables: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)

    def resource(self, rtype: str, name: str) -> dict:
        return self.resources[rtype][name]

    def of_type(self, rtype: str) -> dict[str, dict]:
        return self.resources.get(rtype, {})


def _merge_labelled(target: dict[str, dict[str, dict]], blocks: list[dict]) -> None:
    for block in blocks:
        for rtype, named in unquote(block).items():
            for name, body in named.items():
                assert name not in target.setdefault(rtype, {}), f"duplicate {rtype}.{name}"
                target[rtype][name] = body


def _merge_named(target: dict[str, dict], blocks: list[dict]) -> None:
    for block in blocks:
        for name, body in unquote(block).items():
            assert name not in target, f"duplicate block {name}"
            target[name] = body


def load_terraform(directory: Path = TERRAFORM_DIR) -> TerraformModel:
    model = TerraformModel()
    for path in sorted(directory.glob("*.tf")):
        text = path.read_text()
        model.files[path.name] = text
        with path.open() as handle:
            parsed = hcl2.load(handle)
        _merge_labelled(model.resources, parsed.get("resource", []))
        _merge_labelled(model.data, parsed.get("data", []))
        _merge_named(model.variables, parsed.get("variable", []))
        _merge_named(model.outputs, parsed.get("output", []))
        for block in parsed.get("locals", []):
            model.locals.update(unquote(block))
    return model


def as_list(value: Any) -> list:
    """Blocks and some attributes come back as one dict or a list of them; always give a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
