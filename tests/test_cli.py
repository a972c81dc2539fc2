"""The command line: bad input gets one line and exit status 2; good input starts and stops cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from calltape.config import ConfigError, HostPort, load_settings
from tests.server import ServerProcess


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calltape", *args], capture_output=True, text=True, timeout=30, env=env
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["serve", "--sip", "nonsense"], "--sip"),
        (["serve", "--sip", "127.0.0.1:70000"], "--sip"),
        (["serve", "--sip", "127.0.0.1:50²"], "--sip"),  # "²".isdigit() is true, int("50²") fails
        (["serve", "--workers", "0"], "--workers"),
        (["serve", "--workers", "²"], "--workers"),
        (["serve", "--http", "127.0.0.1:"], "--http"),
        (["serve", "--rtp-ports", "20000-10000"], "--rtp-ports"),
        (["serve", "--rtp-ports", "80-90"], "--rtp-ports"),
        (["serve", "--log-level", "loud"], "--log-level"),
        (["serve", "--db", "mysql://x"], "--db"),
        (["serve", "--sip-tls", "127.0.0.1:5061"], "needs --tls-cert and --tls-key"),
        (["serve", "--sip-tls", "127.0.0.1:5061", "--tls-cert", "/nonexistent.pem", "--tls-key", "/x"], "--tls-cert"),
        (["serve", "--no-such-flag"], "unrecognized arguments"),
        (["serve", "--config", "/nonexistent/calltape.toml"], "--config"),
        (["fly"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_flags_one_line_exit_2(args: list[str], needle: str) -> None:
    result = _run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("calltape: error:") and needle in lines[0]
    assert result.stdout == ""


def test_bad_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('sip = "127.0.0.1:5060"\nsurprise = 1\n')
    result = _run("serve", "--config", str(bad))
    assert result.returncode == 2 and "surprise" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    bad.write_text("sip = [unterminated")
    assert _run("serve", "--config", str(bad)).returncode == 2


def test_layers_flags_over_env_over_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('sip = "127.0.0.1:5070"\nhttp = "127.0.0.1:8001"\nlog_level = "debug"\n')
    env = {"CALLTAPE_HTTP": "127.0.0.1:8002", "CALLTAPE_LOG_LEVEL": "warning"}
    settings = load_settings({"log_level": "error"}, config, env)
    assert settings.sip == HostPort("127.0.0.1", 5070)
    assert settings.http == HostPort("127.0.0.1", 8002)
    assert settings.log_level == "error"
    with pytest.raises(ConfigError, match=r"--rtp-ports"):
        load_settings({}, None, {"CALLTAPE_RTP_PORTS": "a-b"})


def test_serve_prints_addresses_generates_token_once_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path / "data", extra_args=[])
    proc.start()
    assert proc.stop() == 0
    assert any("SIP listening on udp+tcp 127.0.0.1:" in line for line in proc.stdout_lines)
    assert any("API listening on http://127.0.0.1:" in line for line in proc.stdout_lines)


def test_generated_token_is_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = ["serve", "--sip", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data-dir", str(data)]
    first = subprocess.Popen([sys.executable, "-m", "calltape", *args], stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None
    line = first.stdout.readline()
    first.terminate()
    first.wait(10)
    token = (data / "api-token").read_text().strip()
    assert f"generated API token {token}" in line
    assert oct((data / "api-token").stat().st_mode & 0o777) == "0o600"


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    result = _run(
        "serve",
        "--sip",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--data-dir",
        str(tmp_path),
        "--db",
        "postgresql://nobody@127.0.0.1:1/none",
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("calltape: error:")
