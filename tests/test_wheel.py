"""The built wheel, installed in a fresh virtual environment, works.

The wheel is built from the package sources alone (``pip wheel --no-deps``)
and installed with ``--no-deps`` into a new venv whose only link to this
project's environment is a ``.pth`` line naming its site-packages, where the
dependencies are: the installed package, not the checkout, is what runs
(every command runs outside the checkout, and the test checks which files
were imported).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.wheel


def _run(args: list[str], cwd: Path, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel installed; returns its directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "pynomaly", src / "pynomaly",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", str(dist), str(src)], cwd=tmp)
    (wheel,) = dist.glob("pynomaly_stream-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp).strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_project_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
          "--no-index", str(wheel)], cwd=tmp)
    return venv


def test_wheel_imports_from_the_venv_with_types_and_version(fresh: Path, tmp_path: Path):
    out = _run([str(fresh / "bin" / "python"), "-c", (
        "import importlib.metadata as md, pathlib, pynomaly, pynomaly.dataflow as pxo\n"
        "root = pathlib.Path(pynomaly.__file__).parent\n"
        "print(root)\n"
        "print(pynomaly.__version__, md.version('pynomaly-stream'))\n"
        "print((root / 'py.typed').exists(), (root / 'schemas' / 'alert.v1.json').exists())\n"
        "print(callable(pxo.detect))\n")], cwd=tmp_path)
    root, versions, typed, detect = out.splitlines()
    assert Path(root).is_relative_to(fresh)
    version, dist_version = versions.split()
    assert version == dist_version
    assert version in (ROOT / "CHANGELOG.md").read_text()
    assert typed == "True True" and detect == "True"


def test_docs_example_runs_in_the_fresh_venv(fresh: Path, tmp_path: Path):
    (tmp_path / "flows" / "data").mkdir(parents=True)
    shutil.copy(ROOT / "flows" / "python_operators.py", tmp_path / "flows")
    shutil.copy(ROOT / "flows" / "data" / "sample.jsonl", tmp_path / "flows" / "data")
    _run([str(fresh / "bin" / "python"), "-m", "bytewax.run", "flows.python_operators:flow"],
         cwd=tmp_path)
    alerts = (tmp_path / "out" / "python-operators" / "alerts.jsonl").read_bytes().splitlines()
    assert len(alerts) == 2


def test_demo_from_the_installed_entry_point_produces_alerts(fresh: Path, tmp_path: Path):
    from pynomaly.dataflow.alert_record import alert_schema

    work = tmp_path / "demo"
    out = _run([str(fresh / "bin" / "pynomaly"), "demo", "--no-dashboard", "--duration", "30",
                "--work-dir", str(work)], cwd=tmp_path, timeout=240)
    assert "first alert after" in out
    alerts = [orjson.loads(x) for x in (work / "alerts.jsonl").read_bytes().splitlines()]
    assert alerts
    validator = Draft202012Validator(alert_schema())
    for a in alerts:
        validator.validate(a)
