"""The ``ticketsvc`` console script: declared in pyproject.toml, installed by ``make``."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib

import pytest

from conftest import ROOT


def test_pyproject_declares_the_console_script_and_it_resolves():
    from importlib import import_module

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    module, _, function = project["scripts"]["ticketsvc"].partition(":")
    assert callable(getattr(import_module(module), function))


def test_the_makefile_installs_the_checkout_so_the_command_lands_in_the_venv():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --no-deps -e ." in makefile and "pyproject.toml" in makefile


@pytest.mark.slow
def test_an_editable_install_gives_a_working_ticketsvc_command(tmp_path):
    """The same install step as the Makefile's, into a scratch venv that borrows this
    venv's packages (no network): the installed command runs the checkout's CLI."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (tmp_path / "venv" / site.split(str(venv) + "/", 1)[1] / "borrowed.pth").write_text(
        sysconfig.get_path("purelib") + "\n")
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
                              "--no-build-isolation", "-e", str(ROOT)],
                             capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-2000:]
    result = subprocess.run([str(venv / "bin" / "ticketsvc"), "ingest", "--help"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage: ticketsvc ingest" in result.stdout and "--detach" in result.stdout
