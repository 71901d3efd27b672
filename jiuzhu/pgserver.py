"""A throw-away PostgreSQL cluster started from the local binaries (``/usr/lib/postgresql/*/bin``).

Used by the tests where no server answers on 127.0.0.1:5432, and by the benchmarks for the
incumbent reference: a server of its own, configured as a DBA would for one analytical job on this
machine (``BENCH_SETTINGS``), so that the shared server's settings are never changed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

HOST = "127.0.0.1"

# A DBA's settings for one large aggregation on a 2-core, 24 GiB machine beside other work: a
# quarter of memory as shared buffers, parallel workers for both cores, hash tables that fit the
# groups of one join (work_mem × hash_mem_multiplier per node and worker; 1 GB per node was killed
# for memory in ../shared/PERFORMANCE.md), SSD costs, and no waiting on disk flushes for a job
# whose output can be recomputed.
BENCH_SETTINGS = {
    "shared_buffers": "4GB", "effective_cache_size": "12GB", "work_mem": "256MB", "hash_mem_multiplier": "2",
    "maintenance_work_mem": "1GB", "max_parallel_workers_per_gather": "2", "max_parallel_maintenance_workers": "2",
    "max_worker_processes": "4", "max_parallel_workers": "4", "random_page_cost": "1.1",
    "effective_io_concurrency": "200", "max_wal_size": "8GB", "synchronous_commit": "off", "fsync": "off",
    "full_page_writes": "off", "wal_level": "minimal", "max_wal_senders": "0",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class ThrowAwayServer:
    """A PostgreSQL cluster in a temp folder, run as the ``postgres`` OS user when we are root."""

    def __init__(self, settings: dict[str, str] | None = None):
        self.folder: Path | None = None
        self.port = free_port()
        self.bin: Path | None = None
        self.as_user: list[str] = []
        self.settings = {"fsync": "off", **(settings or {})}

    def version(self) -> str | None:
        return self.bin.parent.name if self.bin else None

    def start(self) -> str | None:
        """Start the server; returns None on success or the reason it could not start."""
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            return "本机没有 PostgreSQL 程序(/usr/lib/postgresql/*/bin/initdb)"
        self.bin = Path(found[-1]).parent
        self.folder = Path(tempfile.mkdtemp(prefix="jiuzhu-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                return "以 root 运行且没有 postgres 系统用户,无法运行 initdb"
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        data = self.folder / "data"
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        steps = [
            [str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
            [str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "server.log"), "-w", "-o",
             f"-p {self.port} -k {self.folder} -c listen_addresses={HOST} {options}", "start"],
        ]
        for step in steps:
            proc = subprocess.run([*self.as_user, *step], check=False, capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                return f"启动临时 PostgreSQL 失败:{(proc.stderr or proc.stdout).strip()[-300:]}"
        return None

    def stop(self) -> None:
        if self.bin and self.folder and (self.folder / "data" / "postmaster.pid").exists():
            subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
                            "-w", "stop"], check=False, capture_output=True, timeout=120)
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
