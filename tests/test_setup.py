"""The set-up script's answer on a machine without Python 3.10."""
from __future__ import annotations

import shutil
import subprocess

from bot.config import PROJECT_ROOT


def test_without_python_310_setup_says_what_to_install_and_fails(tmp_path):
    project = tmp_path / "clone"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "scripts" / "setup.sh", project / "scripts")
    shutil.copy(PROJECT_ROOT / "requirements.txt", project)
    # A PATH and HOME with no Python 3.10 anywhere (no pyenv either).
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(["bash", str(project / "scripts" / "setup.sh")], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "Rasa 3.6 needs Python 3.10: install it (e.g. 'pyenv install 3.10' or your system's python3.10 package) "
        "and run this again."]
    assert not (project / ".venv").exists()
