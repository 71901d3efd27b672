"""Alerts to the on-call engineer (运行维护): a run failed, a department's feed is late, a check
failed, a data file was tampered with. Each alert has a key; it is sent once when it opens and once
when it clears (recovered), never again while it stays open. Where it goes is configured in
``JIUZHU_ALERT_SINKS`` (comma-separated): ``log`` (JSON Lines under ``$JIUZHU_HOME/alerts/``, the
default), ``webhook:<url>`` (a JSON POST), ``email:<host>:<port>:<to>`` (plain SMTP, e.g. the
department's relay). The open alerts are kept in ``alerts/state.json``.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import smtplib
import urllib.request
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path

log = logging.getLogger("jiuzhu.alerts")
ENV = "JIUZHU_ALERT_SINKS"
SEVERITY_ZH = {"critical": "紧急", "warning": "警告", "info": "提示"}


@dataclass(frozen=True)
class Alert:
    key: str  # e.g. freshness:renshe, run:<job>, integrity:ALTERED
    severity: str  # critical, warning, info
    title_zh: str
    detail_zh: str
    state: str = "open"  # open or resolved
    at: str = ""


def _root(home: Path) -> Path:
    return Path(home) / "alerts"


def sinks_from_env() -> list[str]:
    return [s.strip() for s in os.environ.get(ENV, "log").split(",") if s.strip()]


def _send(alert: Alert, home: Path, sinks: list[str]) -> list[str]:
    """Deliver to every sink; a sink that fails is logged and reported, the others still get it."""
    failed = []
    body = json.dumps(asdict(alert), ensure_ascii=False)
    for sink in sinks:
        try:
            if sink == "log":
                path = _root(home) / "alerts.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as f:
                    f.write(body + "\n")
                (log.error if alert.severity == "critical" and alert.state == "open" else log.warning)(
                    "%s %s", alert.key, alert.state)
            elif sink.startswith("webhook:"):
                req = urllib.request.Request(sink.removeprefix("webhook:"), data=body.encode("utf-8"), method="POST",
                                             headers={"Content-Type": "application/json; charset=utf-8"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    r.read()
            elif sink.startswith("email:"):
                host, port, to = sink.removeprefix("email:").split(":", 2)
                msg = EmailMessage()
                tag = "已恢复" if alert.state == "resolved" else SEVERITY_ZH.get(alert.severity, alert.severity)
                msg["Subject"] = f"[社会救助平台][{tag}] {alert.title_zh}"
                msg["From"] = os.environ.get("JIUZHU_ALERT_FROM", "jiuzhu-alerts@localhost")
                msg["To"] = to
                msg.set_content(f"{alert.title_zh}\n\n{alert.detail_zh}\n\n告警键:{alert.key}\n时间:{alert.at}")
                with smtplib.SMTP(host, int(port), timeout=10) as smtp:
                    smtp.send_message(msg)
            else:
                raise ValueError(f"未知的告警渠道:{sink}")
        except Exception as exc:  # noqa: BLE001 — one broken sink must not silence the others
            log.error("alert sink %s failed: %s", sink.split(":")[0], type(exc).__name__)
            failed.append(sink.split(":")[0])
    return failed


class Alerts:
    """The open alerts of a platform home, and the sinks they go to."""

    def __init__(self, home: Path, sinks: list[str] | None = None, clock=lambda: _dt.datetime.now(_dt.UTC)):
        self.home = Path(home)
        self.sinks = sinks if sinks is not None else sinks_from_env()
        self.clock = clock
        self.path = _root(home) / "state.json"

    def open_alerts(self) -> dict[str, dict]:
        return json.loads(self.path.read_text("utf-8")) if self.path.exists() else {}

    def _save(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, ensure_ascii=False, indent=2), "utf-8")
        tmp.replace(self.path)

    def raise_(self, key: str, severity: str, title_zh: str, detail_zh: str) -> bool:
        """Open an alert (sent now); False when it is already open (nothing is sent again)."""
        state = self.open_alerts()
        if key in state:
            return False
        alert = Alert(key, severity, title_zh, detail_zh, "open", self.clock().isoformat(timespec="seconds"))
        _send(alert, self.home, self.sinks)
        state[key] = asdict(alert)
        self._save(state)
        return True

    def resolve(self, key: str, detail_zh: str = "") -> bool:
        """Clear an open alert (the recovery is sent); False when it was not open."""
        state = self.open_alerts()
        if key not in state:
            return False
        was = state.pop(key)
        alert = Alert(key, was["severity"], was["title_zh"], detail_zh or "已恢复正常", "resolved",
                      self.clock().isoformat(timespec="seconds"))
        _send(alert, self.home, self.sinks)
        self._save(state)
        return True

    def reconcile(self, prefix: str, current: dict[str, tuple[str, str, str]]) -> tuple[list[str], list[str]]:
        """Make the open alerts under ``prefix`` exactly ``current`` (key → severity, title, detail)."""
        opened = [k for k, (sev, title, detail) in current.items() if self.raise_(k, sev, title, detail)]
        cleared = [k for k in list(self.open_alerts()) if k.startswith(prefix) and k not in current
                   and self.resolve(k)]
        return opened, cleared
