"""LiteLLM proxy as the benchmark's point of comparison, in its own virtual environment.

Why its own venv (bench/.litellm-venv): LiteLLM pins dozens of packages that must not leak into
unillm's environment, and a fixed version (1.103.7) keeps the comparison reproducible. The venv is
created on first use and reused afterwards. Every failure here raises `LitellmUnavailable` with a
short reason, so the benchmark reports "litellm: not available (reason)" and carries on.

It runs the way the issue's reference figures were taken: no database, one worker,
LITELLM_LOCAL_MODEL_COST_MAP=True (no network fetch of the cost map), LITELLM_MODE=PRODUCTION (no
.env loading), a config.yaml with one model pointing to the mock and a master key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

LITELLM_VERSION = "1.103.7"
VENV_DIR = Path(__file__).resolve().parent / ".litellm-venv"
MASTER_KEY = "sk-bench-litellm-master"
MODEL = "openai/gpt-4o-mini"
INSTALL_TIMEOUT_S = 1200


class LitellmUnavailable(Exception):
    """LiteLLM could not be installed or started; the message is the reason shown in the report."""


def _installed_version(python: Path) -> str | None:
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_venv(venv: Path = VENV_DIR) -> Path:
    """The `litellm` executable of the venv, installing litellm[proxy]==LITELLM_VERSION when needed."""
    python = venv / "bin" / "python"
    executable = venv / "bin" / "litellm"
    if _installed_version(python) == LITELLM_VERSION and executable.exists():
        return executable
    base_python = shutil.which("python3")
    if base_python is None:
        raise LitellmUnavailable("python3 not found on PATH to create its venv")
    print(
        f"installing litellm[proxy]=={LITELLM_VERSION} into {venv} (once; this takes a few minutes) ...",
        flush=True,
    )
    steps = [
        [base_python, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", f"litellm[proxy]=={LITELLM_VERSION}"],
    ]
    for step in steps:
        try:
            done = subprocess.run(
                step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LitellmUnavailable(f"{' '.join(step[:3])} failed: {exc}") from exc
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if "ERROR" in line or "error:" in line]
            detail = (errors[-1] if errors else done.stderr.strip()[-300:]) or f"exit {done.returncode}"
            raise LitellmUnavailable(f"pip install litellm[proxy]=={LITELLM_VERSION} failed: {detail}")
    if _installed_version(python) != LITELLM_VERSION or not executable.exists():
        raise LitellmUnavailable("litellm is not importable after installation")
    return executable


def write_config(path: Path, mock_base_url: str) -> Path:
    """config.yaml: one model (`openai/gpt-4o-mini`) served by the mock, a master key, no database."""
    path.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: {MODEL}\n"
        f"      api_base: {mock_base_url}\n"
        "      api_key: sk-mock\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n"
    )
    return path


def command(executable: Path, config: Path, port: int) -> list[str]:
    """`litellm --config ... --num_workers 1` on 127.0.0.1 (ready at /health/liveliness)."""
    return [
        str(executable),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]


def environment() -> dict[str, str]:
    """The proxy's environment: no database and nothing inherited that could change its behaviour."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("LITELLM_", "DATABASE_URL", "OPENAI_", "UNILLM_", "VIRTUAL_ENV"))
    }
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_MODE="PRODUCTION")
    env["PATH"] = f"{VENV_DIR / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env
