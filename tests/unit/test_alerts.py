"""Alerts: an alert is sent once when it opens and once when it clears, to every configured sink (a
log, a webhook, e-mail); a broken sink does not silence the others."""

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from jiuzhu import alerts


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"webhook:http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


@pytest.fixture
def smtp():
    """A minimal SMTP server that keeps the messages it is given."""
    messages = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(b"220 test\r\n")
            data = None
            while line := self.rfile.readline():
                if data is not None:
                    if line == b".\r\n":
                        messages.append(b"".join(data).decode("utf-8", "replace"))
                        data = None
                        self.wfile.write(b"250 ok\r\n")
                    else:
                        data.append(line)
                    continue
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    self.wfile.write(b"250 test\r\n")
                elif verb == b"DATA":
                    data = []
                    self.wfile.write(b"354 go\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"email:127.0.0.1:{server.server_address[1]}:oncall@example.org", messages
    server.shutdown()


def test_an_alert_is_sent_once_when_it_opens_and_once_when_it_clears(tmp_path, webhook, smtp):
    hook, posted = webhook
    mail, mailed = smtp
    board = alerts.Alerts(tmp_path, ["log", hook, mail])
    assert board.raise_("freshness:renshe", "warning", "人社数据逾期未报送", "已逾期3天")
    assert not board.raise_("freshness:renshe", "warning", "人社数据逾期未报送", "已逾期4天")  # still open
    assert [p["state"] for p in posted] == ["open"] and len(mailed) == 1
    assert "人社数据逾期未报送" in mailed[0] or "=?utf-8?" in mailed[0]
    assert board.resolve("freshness:renshe", "已收到新批次")
    assert not board.resolve("freshness:renshe")
    assert [p["state"] for p in posted] == ["open", "resolved"] and len(mailed) == 2
    lines = (tmp_path / "alerts" / "alerts.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(x)["state"] for x in lines] == ["open", "resolved"]
    assert board.open_alerts() == {}


def test_a_broken_sink_does_not_silence_the_others(tmp_path):
    board = alerts.Alerts(tmp_path, ["webhook:http://127.0.0.1:9/none", "log"])
    assert board.raise_("run:abc", "critical", "作业失败", "x")
    assert (tmp_path / "alerts" / "alerts.jsonl").exists()


def test_reconcile_opens_the_new_and_clears_the_gone(tmp_path):
    board = alerts.Alerts(tmp_path, ["log"])
    board.raise_("run:1", "critical", "作业失败", "x")
    opened, cleared = board.reconcile("freshness:", {"freshness:a": ("warning", "A", "a"), "freshness:b": ("warning", "B", "b")})
    assert sorted(opened) == ["freshness:a", "freshness:b"] and cleared == []
    opened, cleared = board.reconcile("freshness:", {"freshness:b": ("warning", "B", "b")})
    assert opened == [] and cleared == ["freshness:a"]
    assert set(board.open_alerts()) == {"freshness:b", "run:1"}  # other kinds are left alone


def test_the_health_command_shows_open_alerts_and_fails_on_a_critical_one(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from jiuzhu import cli

    monkeypatch.setenv("JIUZHU_HOME", str(tmp_path))
    monkeypatch.delenv("JIUZHU_BUSINESS_DB_URL", raising=False)
    runner = CliRunner()
    ok = runner.invoke(cli.main, ["health"])
    assert ok.exit_code == 0 and "告警:0 条未解除" in ok.output and "最近备份:无" in ok.output
    alerts.Alerts(tmp_path, ["log"]).raise_("run:1", "critical", "作业 marts 运行失败", "x")
    failing = runner.invoke(cli.main, ["health"])
    assert failing.exit_code == 1 and "作业 marts 运行失败" in failing.output
