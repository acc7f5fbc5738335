"""The first commands on a fresh clone: the Makefile builds its own environment, and `make test`
stops on its first line when a binary it needs is missing (.ci/require-binaries).

The Makefile is exercised in a copy of the working tree (committed and untracked files, as a
fresh clone of this state would have them) with a PATH of fakes, so nothing here installs or
builds anything real.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import stackfiles as sf

pytestmark = pytest.mark.contract

SCRIPT = sf.REPO / ".ci" / "require-binaries"
BINARIES = ("prometheus", "promtool", "prometheus-alertmanager", "amtool", "kubectl")
MAKE = shutil.which("make")


def _executable(path: Path, body: str) -> Path:
    path.write_text("#!/bin/bash\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _fake_bin(tmp_path: Path, present: tuple[str, ...] = ()) -> Path:
    """A PATH directory with bash and the named binaries (stubs) and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "bash").symlink_to("/bin/bash")
    for name in present:
        _executable(bin_dir / name, "exit 0\n")
    return bin_dir


def _os_release(tmp_path: Path, distro: str) -> Path:
    path = tmp_path / "os-release"
    path.write_text(f'NAME="{distro}"\nID={distro}\nVERSION_ID="1"\n', encoding="utf-8")
    return path


def _run_script(bin_dir: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        ["/bin/bash", str(SCRIPT), *args],
        env={"PATH": str(bin_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_binaries_fail_on_the_first_line_naming_each_and_the_install_command(tmp_path):
    bin_dir = _fake_bin(tmp_path, present=("prometheus", "promtool"))
    result = _run_script(bin_dir, env={"OS_RELEASE": str(_os_release(tmp_path, "debian"))})
    assert result.returncode == 1
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert re.match(r"missing prometheus-alertmanager amtool kubectl: ", first), first
    # Packages once each, never one that is already installed.
    install = "apt-get install -y --no-install-recommends prometheus-alertmanager kubernetes-client"
    assert install in first
    assert " prometheus " not in first.split("install with:")[1]
    assert "make test-unit" in result.stderr


def test_every_binary_present_passes_silently(tmp_path):
    result = _run_script(_fake_bin(tmp_path, present=BINARIES))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_only_the_binaries_asked_for_are_checked(tmp_path):
    # `make lint` asks for promtool and amtool only.
    result = _run_script(_fake_bin(tmp_path, present=("promtool", "amtool")), "promtool", "amtool")
    assert result.returncode == 0, result.stderr
    result = _run_script(_fake_bin(tmp_path / "b", present=("promtool",)), "promtool", "amtool")
    assert result.returncode == 1
    assert result.stderr.startswith("missing amtool: ")


def _fake_apt(bin_dir: Path, log: Path, offered: tuple[str, ...]) -> None:
    """apt-get and apt-cache stubs: `install` drops stubs of each package's binaries into PATH."""
    ships = {
        "prometheus": ("prometheus", "promtool"),
        "prometheus-alertmanager": ("prometheus-alertmanager", "amtool"),
        "kubectl": ("kubectl",),
    }
    cases = "".join(
        f"    {package}) for b in {' '.join(binaries)}; do "
        f"printf '#!/bin/bash\\nexit 0\\n' > {bin_dir}/$b; /bin/chmod +x {bin_dir}/$b; done ;;\n"
        for package, binaries in ships.items()
    )
    _executable(
        bin_dir / "apt-get",
        f'echo "apt-get $*" >> {log}\n'
        '[ "$1" = install ] || exit 0\n'
        'for p in "$@"; do case "$p" in\n' + cases + "  esac; done\n",
    )
    known = " ".join(offered)
    _executable(bin_dir / "apt-cache", f'case " {known} " in *" $2 "*) exit 0 ;; esac; exit 100\n')


root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the install path runs only as root")


@root_only
def test_as_root_on_debian_it_installs_what_is_missing_with_apt_get(tmp_path):
    bin_dir = _fake_bin(tmp_path, present=("kubectl",))
    log = tmp_path / "apt.log"
    _fake_apt(bin_dir, log, offered=("prometheus", "prometheus-alertmanager"))
    result = _run_script(bin_dir, env={"OS_RELEASE": str(_os_release(tmp_path, "debian"))})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith(
        "missing prometheus promtool prometheus-alertmanager amtool: installing "
        "prometheus prometheus-alertmanager with apt-get"
    )
    assert log.read_text().splitlines() == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager",
    ]


@root_only
def test_as_root_it_fails_naming_what_apt_could_not_provide(tmp_path):
    bin_dir = _fake_bin(tmp_path)
    log = tmp_path / "apt.log"
    # apt offers no package with kubectl in it (kubernetes-client absent from the sources).
    _fake_apt(bin_dir, log, offered=("prometheus", "prometheus-alertmanager"))
    result = _run_script(bin_dir, env={"OS_RELEASE": str(_os_release(tmp_path, "ubuntu"))})
    assert result.returncode == 1
    assert "still missing after apt-get: kubectl" in result.stderr
    assert "kubernetes.io" in result.stderr


def test_it_never_runs_apt_get_on_other_systems(tmp_path):
    bin_dir = _fake_bin(tmp_path)
    log = tmp_path / "apt.log"
    _fake_apt(bin_dir, log, offered=("prometheus", "prometheus-alertmanager", "kubernetes-client"))
    result = _run_script(bin_dir, env={"OS_RELEASE": str(_os_release(tmp_path, "fedora"))})
    assert result.returncode == 1
    assert not log.exists()
    assert "your package manager (on Debian/Ubuntu: " in result.stderr.splitlines()[0]


# ---- the Makefile, in a copy of the tree -----------------------------------------------------
def _fresh_clone(tmp_path: Path) -> Path:
    """Committed and untracked (not ignored) files of the working tree: what a clone would hold."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=sf.REPO,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    clone = tmp_path / "clone"
    for name in filter(None, listed.split("\0")):
        source = sf.REPO / name
        if not source.is_file():  # deleted in the working tree, not yet committed
            continue
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    assert (clone / "Makefile").is_file() and not (clone / ".venv").exists()
    return clone


def _make(clone: Path, *args: str, path: str | None = None, **env: str):
    assert MAKE, "make is not installed (apt-get install make)"
    return subprocess.run(
        [MAKE, "--no-print-directory", *args],
        cwd=clone,
        env={"PATH": path or os.environ["PATH"], "HOME": str(clone), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_test_on_a_fresh_clone_without_the_binaries_fails_first_and_builds_nothing(tmp_path):
    clone = _fresh_clone(tmp_path)
    bin_dir = _fake_bin(tmp_path)
    (bin_dir / "python3").symlink_to(shutil.which("python3"))
    result = _make(clone, "test", path=str(bin_dir))
    assert result.returncode != 0
    output = (result.stdout + result.stderr).splitlines()
    assert output[0].startswith("missing " + " ".join(BINARIES) + ": make test needs them"), output
    assert not (clone / ".venv").exists(), "the environment was built before the check failed"


def _targets(clone: Path) -> list[str]:
    listing = _make(clone, "help").stdout
    return re.findall(r"^  ([a-z-]+)\s", listing, re.MULTILINE)


def test_every_target_that_runs_the_environment_builds_it_first(tmp_path):
    clone = _fresh_clone(tmp_path)
    targets = _targets(clone)
    assert {"up", "down", "test", "lint", "test-unit", "install"} <= set(targets)
    users = 0
    for target in targets:
        lines = _make(clone, "-n", target).stdout.splitlines()
        uses = [i for i, line in enumerate(lines) if ".venv/bin/python -m " in line]
        if not uses:
            continue
        users += 1
        builds = [i for i, line in enumerate(lines) if "-m venv .venv" in line]
        assert builds and builds[0] < uses[0], f"make {target} runs .venv before building it"
    assert users >= 15


def _fake_python(tmp_path: Path, log: Path) -> Path:
    """A PYTHON_BASE whose `-m venv DIR` makes DIR/bin/python, a stub that logs each call."""
    venv_python = f'printf "%s\\n" "python $*" >> {log}\n'
    return _executable(
        tmp_path / "python-base",
        f'echo "base $*" >> {log}\n'
        '[ "$1 $2" = "-m venv" ] || exit 1\n'
        '/bin/mkdir -p "$3/bin"\n'
        f"cat > \"$3/bin/python\" <<'EOF'\n#!/bin/bash\n{venv_python}EOF\n"
        '/bin/chmod +x "$3/bin/python"\n',
    )


def test_the_environment_is_built_once_and_again_when_a_dependency_list_changes(tmp_path):
    clone = _fresh_clone(tmp_path)
    log = tmp_path / "calls.log"
    base = _fake_python(tmp_path, log)
    first = _make(clone, "install", f"PYTHON_BASE={base}")
    assert first.returncode == 0, first.stderr
    calls = log.read_text().splitlines()
    assert calls == [
        "base -m venv .venv",
        "python -m pip install -q -e ./service -e ./alertsink -r requirements-dev.txt",
    ]
    again = _make(clone, "install", f"PYTHON_BASE={base}")
    assert again.returncode == 0, again.stderr
    assert log.read_text().splitlines() == calls, "the second run did the work again"

    stamp = (clone / ".venv" / ".installed").stat().st_mtime
    for changed in ("requirements-dev.txt", "service/pyproject.toml", "alertsink/pyproject.toml"):
        os.utime(clone / changed, (stamp + 10, stamp + 10))
        rebuilt = _make(clone, "install", f"PYTHON_BASE={base}")
        assert rebuilt.returncode == 0, rebuilt.stderr
        calls = log.read_text().splitlines()
        # pip again, in the existing environment; no second `python3 -m venv`.
        assert calls[-1].startswith("python -m pip install"), (changed, calls)
        assert sum(c.startswith("base ") for c in calls) == 1
        stamp = (clone / ".venv" / ".installed").stat().st_mtime
