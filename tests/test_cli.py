"""The console command: help for everything, one-line errors, exit code 2."""

import subprocess
import sys

import pytest

from tinykws.cli import COMMANDS, main


def _run(*args):
    return subprocess.run([sys.executable, "-m", "tinykws", *args], capture_output=True, text=True)


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", COMMANDS)
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*name.split(), "--help"])
    assert exc.value.code == 0
    assert "usage: tinykws" in capsys.readouterr().out


def test_unknown_subcommand_is_a_one_line_error_with_exit_2():
    result = _run("no-such-command")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "error:" in result.stderr


def test_missing_subcommand_is_a_one_line_error_with_exit_2():
    result = _run()
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1


def test_missing_wav_is_a_one_line_error_not_a_traceback(tmp_path):
    result = _run("features", str(tmp_path / "nope.wav"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("tinykws: error:") and "nope.wav" in result.stderr
    assert not (tmp_path / "out").exists()
