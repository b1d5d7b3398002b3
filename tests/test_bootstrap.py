"""``scripts/bootstrap.sh test`` against a held dpkg lock: it must wait, not fail.

The script runs in a copy of the repository layout whose ``.venv`` is already
installed, with ``apt-get`` replaced by a fake that behaves like apt when
another process holds the lock: without a lock timeout it fails at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FAKE_APT = """#!/bin/sh
echo "$*" >> "$APT_CALLS"
case "$*" in
  *DPkg::Lock::Timeout=*) exit 0 ;;
esac
echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" >&2
exit 100
"""


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", repo / "scripts" / "bootstrap.sh")
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").symlink_to(sys.executable)
    stamp = repo / ".venv" / ".installed-test"
    stamp.touch()
    os.utime(repo / "pyproject.toml", (1, 1))  # older than the stamp: nothing to pip-install
    bin_dir = tmp_path / "bin"  # only what the script needs: no redis-server, no promtool
    bin_dir.mkdir()
    for tool in ("dirname", "id"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    for name, text in (("apt-get", FAKE_APT), ("sudo", '#!/bin/sh\nexec "$@"\n')):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return repo, bin_dir


def test_bootstrap_waits_for_the_dpkg_lock(tmp_path: Path) -> None:
    repo, bin_dir = _tree(tmp_path)
    calls = tmp_path / "apt-calls.txt"
    done = subprocess.run(
        [shutil.which("bash"), str(repo / "scripts" / "bootstrap.sh"), "test"],
        env={"PATH": str(bin_dir), "APT_CALLS": str(calls), "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    assert any(" update" in line for line in lines), lines
    assert any(" install " in line and "redis-server" in line for line in lines), lines
    assert all("DPkg::Lock::Timeout=600" in line for line in lines), lines
