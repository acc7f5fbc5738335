"""`make clean` (MODE=native): it says what it stopped and what it removed."""

import pytest

from ops.stack import native

pytestmark = pytest.mark.unit


def test_clean_names_what_it_removed_and_does_not_claim_nothing_happened(tmp_path, capsys):
    run_dir = tmp_path / ".run"
    for sub in ("logs", "data/prometheus", "pids"):
        (run_dir / sub).mkdir(parents=True)
    (run_dir / "logs" / "prometheus.log").write_text("x\n")
    (run_dir / "admin-token").write_text("t\n")
    assert native.clean(run_dir) == 0
    out = capsys.readouterr().out
    assert not run_dir.exists()
    assert out.strip() == f"removed {run_dir} (admin-token, data/, logs/, pids/)"
    assert "nothing was stopped" not in out


def test_clean_without_a_run_directory_says_there_was_nothing_to_remove(tmp_path, capsys):
    run_dir = tmp_path / ".run"
    assert native.clean(run_dir) == 0
    assert capsys.readouterr().out.strip() == f"nothing to remove: {run_dir} does not exist"
    assert not run_dir.exists()


def test_down_still_says_when_nothing_was_stopped(tmp_path, capsys):
    assert native.down(tmp_path / ".run") == 0
    assert capsys.readouterr().out.strip() == "nothing was stopped"
