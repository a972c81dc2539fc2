"""``calltape edge-config``: the shipped example is what the command renders, Debian's Kamailio accepts what it
renders (``kamailio -c``), and bad flags get one line and exit 2. The edge at work: tests/e2e/test_edge.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from calltape.edge import node_list, render

ROOT = Path(__file__).resolve().parents[1]
EDGE = [sys.executable, "-m", "calltape", "edge-config"]


def test_the_shipped_configuration_is_the_rendered_one() -> None:
    shipped = ROOT / "deploy" / "kamailio"
    assert (shipped / "kamailio.cfg").read_text() == render("203.0.113.10", 5060, "/etc/kamailio/calltape-nodes.list")
    assert (shipped / "calltape-nodes.list").read_text() == node_list(["sip:10.0.0.11:5060", "sip:10.0.0.12:5060"])


def test_kamailio_accepts_what_it_renders(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.list"
    args = ["--listen", "127.0.0.1:15999", "--node", "sip:127.0.0.1:15061", "--node", "127.0.0.1:15062"]
    out = subprocess.run([*EDGE, *args, "--list", str(nodes)], capture_output=True, text=True, check=True)
    assert nodes.read_text() == "1 sip:127.0.0.1:15061 0 0\n1 sip:127.0.0.1:15062 0 0\n"
    (tmp_path / "kamailio.cfg").write_text(out.stdout)
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    checked = subprocess.run([kamailio, "-c", "-f", str(tmp_path / "kamailio.cfg")], capture_output=True, text=True)
    assert checked.returncode == 0 and "config file ok" in checked.stdout + checked.stderr, checked.stderr[-2000:]


def test_bad_flags_get_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (
        ["--listen", "nowhere", "--node", "sip:127.0.0.1:5061"],
        ["--listen", "127.0.0.1:5060", "--node", "sip:127.0.0.1:99999"],
        ["--listen", "127.0.0.1:5060"],
    ):
        out = subprocess.run([*EDGE, *args, "--list", str(tmp_path / "n.list")], capture_output=True, text=True)
        assert out.returncode == 2 and out.stderr.startswith("calltape: error:") and out.stderr.count("\n") == 1
        assert out.stdout == ""
