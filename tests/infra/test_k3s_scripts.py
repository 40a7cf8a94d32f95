"""infra/k3s scripts: shellcheck-clean, strict mode, --dry-run prints and changes nothing, and
backup.sh/restore.sh round-trip a real workspace folder."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
K3S = ROOT / "infra" / "k3s"
SCRIPTS = [
    "setup-master.sh",
    "add-worker.sh",
    "deploy.sh",
    "test-infrastructure.sh",
    "backup.sh",
    "restore.sh",
    "cleanup.sh",
]
MUTATING = ["apt-get", "kubectl", "helm", "docker", "curl", "systemctl", "k3s", "install", "exportfs", "ssh",
            "openssl", "cp", "mv", "mkdir", "tar", "rm", "rmdir", "sqlite3", "chmod", "chown"]  # fmt: skip


def test_shellcheck_clean(tool) -> None:
    files = [str(K3S / s) for s in SCRIPTS] + [str(K3S / "lib.sh")]
    result = subprocess.run(
        [tool("shellcheck"), "-x", "-S", "style", *files], capture_output=True, text=True, cwd=K3S
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_strict_mode_and_shared_lib(script: str) -> None:
    path = K3S / script
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    assert lines[0] == "set -euo pipefail"  # the first command
    assert 'source "$HERE/lib.sh"' in path.read_text()
    assert os.access(path, os.X_OK)
    assert "--dry-run" in path.read_text()


def test_lib_is_sourced_not_run() -> None:
    assert not os.access(K3S / "lib.sh", os.X_OK)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script: str) -> None:
    result = subprocess.run([str(K3S / script), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("usage: ")
    assert "--dry-run" in result.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_unknown_argument_is_one_line_error(script: str) -> None:
    result = subprocess.run([str(K3S / script), "--bogus"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "error: unknown argument: --bogus"


@pytest.fixture
def stubs(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PATH whose mutating commands only record that they were called."""
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir()
    log = tmp_path / "called.log"
    for name in MUTATING:
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 0\n')
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "WORKBENCH_PYTHON": sys.executable}
    return env, log


def _workspace(root: Path) -> Path:
    """A workspace folder made with duckdb directly: two tables, raw files, a parquet file."""
    ws = root / "lake"
    (ws / "raw").mkdir(parents=True)
    (ws / "parquet" / "trades").mkdir(parents=True)
    con = duckdb.connect(str(ws / "workbench.duckdb"))
    con.execute("CREATE TABLE backtests AS SELECT range AS id, 'bt-' || range AS name FROM range(3)")
    con.execute(
        "CREATE TABLE trades AS SELECT range AS id, range % 3 AS backtest_id, (range * 1.5 - 20) AS net_profit "
        "FROM range(50)"
    )
    con.execute("CREATE SCHEMA lake")
    con.execute("CREATE TABLE lake.bars AS SELECT range AS ts, 1.1 + range / 1000 AS close FROM range(1234)")
    con.execute(f"COPY trades TO '{ws / 'parquet' / 'trades' / 'part-0.parquet'}' (FORMAT parquet)")
    con.close()
    for i, data in enumerate([b"<html>report</html>", bytes(range(256)) * 40, "Ä,€,ß\n".encode("utf-16")]):
        (ws / "raw" / f"{i:064x}.bin").write_bytes(data)
    return ws


def _table_counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall()
        return {f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in tables}
    finally:
        con.close()


def _hashes(ws: Path) -> dict[str, str]:
    return {
        str(p.relative_to(ws)): hashlib.sha256(p.read_bytes()).hexdigest()
        for sub in ("raw", "parquet")
        for p in sorted((ws / sub).rglob("*"))
        if p.is_file()
    }


DRY_RUNS = {
    "setup-master.sh": (["--node-ip", "10.0.0.10", "--lan", "10.0.0.0/24"],
                        ["apt-get install", "nfs-kernel-server", "exportfs -ra", "get.k3s.io",
                         "INSTALL_K3S_VERSION='v1.33.5+k3s1'", "get-helm-3"]),
    "add-worker.sh": (["--server", "10.0.0.10", "--token-file", "/nonexistent", "--node-ip", "10.0.0.11", "--size", "large"],
                      ["K3S_URL='https://10.0.0.10:6443'", "workbench.io/size=large", "nfs-common",
                       "root@10.0.0.10 sudo k3s ctr images export - 'docker.io/workbench/singleuser:0.1.0'",
                       "k3s ctr images import /var/lib/rancher/k3s/agent/images/workbench-singleuser.tar"]),
    "deploy.sh": (["--nfs-server", "10.0.0.10", "--nodes", "10.0.0.11 10.0.0.12"],
                  ["docker build -f", "ssh 'root@10.0.0.12' sudo k3s ctr images import",
                   "jupyterhub/jupyterhub --version 4.4.0", "kuberay/kuberay-operator --version 1.7.0",
                   "otwld/ollama --version 1.77.0", "chroma/chromadb --version 0.2.2", "kube-prometheus-stack",
                   "kubectl apply -f " + str(ROOT / "infra/kuberay/raycluster.yaml")]),
    "test-infrastructure.sh": (["--host", "10.0.0.10"], ["kubectl wait --for=condition=Ready node", "/hub/health"]),
    "cleanup.sh": (["--node"], ["helm uninstall jupyterhub", "k3s-uninstall.sh"]),
}  # fmt: skip


@pytest.mark.parametrize("script", sorted(DRY_RUNS))
def test_dry_run_prints_every_action_and_runs_none(script: str, stubs) -> None:
    env, log = stubs
    args, expected = DRY_RUNS[script]
    result = subprocess.run(
        [str(K3S / script), "--dry-run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "USER": "root"},
    )
    assert result.returncode == 0, result.stderr
    actions = [ln for ln in result.stdout.splitlines() if ln.startswith("+ ")]
    assert len(actions) >= 3
    for text in expected:
        assert any(text in a for a in actions), (text, actions)
    assert not log.exists(), f"--dry-run ran: {log.read_text()}"


WORKER = ["--server", "10.0.0.10", "--token-file", "/nonexistent", "--node-ip", "10.0.0.11"]
IMAGE = "docker.io/workbench/singleuser:0.1.0"
IMAGE_TAR = "/var/lib/rancher/k3s/agent/images/workbench-singleuser.tar"


def _actions(args: list[str], env: dict[str, str]) -> list[str]:
    result = subprocess.run([str(K3S / "add-worker.sh"), "--dry-run", *args], capture_output=True, text=True,
                            timeout=60, env={**env, "USER": "root"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [ln for ln in result.stdout.splitlines() if ln.startswith("+ ")]


def _index(actions: list[str], text: str) -> int:
    return next(i for i, a in enumerate(actions) if text in a)


@pytest.mark.parametrize(
    ("args", "source"),
    [([], "ssh -o BatchMode=yes -o ConnectTimeout=15 root@10.0.0.10 sudo k3s ctr images export"),
     (["--image-from", "admin@master.lan"], "admin@master.lan sudo k3s ctr images export"),
     (["--image-tar", "/tmp/workbench.tar"], f"install -m 0644 /tmp/workbench.tar {IMAGE_TAR}")],
    ids=["from-the-master", "from-another-host", "from-a-tarball"],
)  # fmt: skip
def test_add_worker_brings_the_workbench_image(args: list[str], source: str, stubs) -> None:
    """The RayCluster and the hub run the image with imagePullPolicy: Never: a new worker gets it into K3s's
    image folder before the agent starts (imported at every start), then imports it and checks it is listed."""
    env, log = stubs
    actions = _actions([*WORKER, *args], env)
    copy, join, up = (
        _index(actions, source),
        _index(actions, "get.k3s.io"),
        _index(actions, "systemctl is-active"),
    )
    imported = _index(actions, f"k3s ctr images import {IMAGE_TAR}")
    listed = _index(actions, f"k3s ctr images ls -q | grep -Fqx '{IMAGE}'")
    assert copy < join < up < imported < listed
    assert ("install -m" not in source) == any(a.startswith("+ ssh ") for a in actions)
    assert not log.exists()
    policies = re.findall(
        r"image: (\S+)\n\s+imagePullPolicy: (\w+)", (ROOT / "infra/kuberay/raycluster.yaml").read_text()
    )
    assert policies and set(policies) == {(IMAGE, "Never")}  # the image add-worker.sh copies
    assert f"WORKBENCH_IMAGE=${{WORKBENCH_IMAGE:-{IMAGE}}}" in (K3S / "lib.sh").read_text()


def test_add_worker_without_the_image(stubs) -> None:
    env, _ = stubs
    actions = _actions([*WORKER, "--no-image"], env)
    assert not any("images" in a for a in actions) and any("get.k3s.io" in a for a in actions)
    for bad in (["--no-image", "--image-tar", "/x"], ["--image-from", "a@b", "--image-tar", "/x"]):
        result = subprocess.run([str(K3S / "add-worker.sh"), "--dry-run", *WORKER, *bad], capture_output=True,
                                text=True, timeout=60, env=env)  # fmt: skip
        assert result.returncode != 0 and result.stderr.strip().splitlines()[-1].startswith("error: --")


@pytest.mark.skipif(os.geteuid() != 0, reason="add-worker.sh runs as root (only stubs act here)")
@pytest.mark.parametrize("master", ["no-image-yet", "unreachable"])
def test_add_worker_asks_the_master_first(tmp_path: Path, stubs, master: str) -> None:
    """For real (every mutating command a stub): a master without the image yet (a first install, before
    deploy.sh) gives a note and no import; a master ssh cannot reach is a one-line error naming the options."""
    env, log = stubs
    ssh = Path(env["PATH"].split(":")[0]) / "ssh"
    listing = "docker.io/rancher/mirrored-pause:3.6" if master == "no-image-yet" else ""
    ssh.write_text(f'#!/bin/sh\necho "ssh $*" >> "{log}"\n'
                   + (f'echo "{listing}"\nexit 0\n' if listing else "exit 255\n"))  # fmt: skip
    token = tmp_path / "token"
    token.write_text("x" * 32)
    args = ["--server", "10.0.0.10", "--token-file", str(token), "--node-ip", "10.0.0.11"]
    result = subprocess.run([str(K3S / "add-worker.sh"), *args], capture_output=True, text=True, timeout=60,
                            env=env)  # fmt: skip
    called = log.read_text()
    assert "ssh -o BatchMode=yes -o ConnectTimeout=15 root@10.0.0.10 sudo k3s ctr images ls -q" in called
    assert "images export" not in called and "images import" not in called
    if master == "no-image-yet":
        assert result.returncode == 0, result.stderr
        assert 'deploy.sh --nodes "... 10.0.0.11" copies it' in result.stderr
        assert "systemctl is-active --quiet k3s-agent" in called  # joined all the same
    else:
        assert result.returncode != 0
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: cannot list the images on root@10.0.0.10") and "--no-image" in last
        assert "get.k3s.io" not in called and "systemctl" not in called  # stopped before joining


def test_backup_and_restore_dry_runs_touch_nothing(tmp_path: Path, stubs) -> None:
    env, log = stubs
    ws = _workspace(tmp_path)
    before = _hashes(ws)
    out = tmp_path / "backups"
    b = subprocess.run([str(K3S / "backup.sh"), "--dry-run", "--workspace", str(ws), "--output", str(out)],
                       capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert b.returncode == 0, b.stderr
    assert any(ln.startswith("+ ") and "tar -C" in ln for ln in b.stdout.splitlines())
    assert not out.exists() and _hashes(ws) == before
    r = subprocess.run([str(K3S / "restore.sh"), "--dry-run", "--archive", str(tmp_path / "x.tar.gz"),
                        "--workspace", str(tmp_path / "new")], capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert any("sha256sum --quiet --strict -c MANIFEST.sha256" in ln for ln in r.stdout.splitlines())
    assert not (tmp_path / "new").exists()
    assert not log.exists()


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKBENCH_PYTHON": sys.executable}
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, **kw)


def _backup(ws: Path, out: Path) -> Path:
    result = _run([str(K3S / "backup.sh"), "--workspace", str(ws), "--output", str(out)])
    assert result.returncode == 0, result.stderr
    archive = Path(result.stdout.strip().splitlines()[-1].removeprefix("backup: "))
    assert archive.is_file() and archive.parent == out
    return archive


def test_backup_delete_restore_round_trip(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    counts, hashes = _table_counts(ws / "workbench.duckdb"), _hashes(ws)
    assert counts == {"main.backtests": 3, "main.trades": 50, "lake.bars": 1234}  # what _workspace created
    assert len(hashes) == 4
    archive = _backup(ws, tmp_path / "backups")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "MANIFEST.sha256" in names and "workspace/workbench.duckdb" in names

    subprocess.run(["rm", "-rf", str(ws)], check=True)
    assert not ws.exists()
    result = _run([str(K3S / "restore.sh"), "--archive", str(archive), "--workspace", str(ws)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"restored: {ws}")
    assert _table_counts(ws / "workbench.duckdb") == counts
    assert _hashes(ws) == hashes
    assert "main.trades 50" in result.stderr  # restore.sh lists the tables it brought back


def test_restore_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    archive = _backup(ws, tmp_path / "backups")
    con = duckdb.connect(str(ws / "workbench.duckdb"))
    con.execute("INSERT INTO backtests VALUES (99, 'after the backup')")
    con.close()
    refused = _run([str(K3S / "restore.sh"), "--archive", str(archive), "--workspace", str(ws)])
    assert refused.returncode != 0 and "--force" in refused.stderr
    assert _table_counts(ws / "workbench.duckdb")["main.backtests"] == 4  # untouched
    forced = _run([str(K3S / "restore.sh"), "--archive", str(archive), "--workspace", str(ws), "--force"])
    assert forced.returncode == 0, forced.stderr
    assert _table_counts(ws / "workbench.duckdb")["main.backtests"] == 3
    (kept,) = tmp_path.glob("lake.before-restore-*")
    assert _table_counts(kept / "workbench.duckdb")["main.backtests"] == 4


def _repack(archive: Path, tmp_path: Path, change) -> Path:
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    change(unpacked)
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for name in ("MANIFEST.sha256", "workspace"):
            tar.add(unpacked / name, arcname=name)
    return bad


@pytest.mark.parametrize(
    "change",
    [
        lambda d: (d / "workspace" / "raw" / f"{0:064x}.bin").write_bytes(b"<html>edited</html>"),
        lambda d: (d / "workspace" / "raw" / "extra.bin").write_bytes(b"not in the manifest"),
        lambda d: (d / "workspace" / "parquet" / "trades" / "part-0.parquet").unlink(),
    ],
    ids=["modified", "extra", "missing"],
)
def test_restore_rejects_an_archive_that_does_not_match_its_manifest(tmp_path: Path, change) -> None:
    ws = _workspace(tmp_path)
    bad = _repack(_backup(ws, tmp_path / "backups"), tmp_path, change)
    target = tmp_path / "restored"
    result = _run([str(K3S / "restore.sh"), "--archive", str(bad), "--workspace", str(target)])
    assert result.returncode != 0
    assert not target.exists()
    assert not list(tmp_path.glob(".workbench-restore.*"))  # its staging folder is cleaned up


def test_backup_holds_the_duckdb_lock(tmp_path: Path) -> None:
    """While another process writes to the catalog, backup.sh fails instead of copying a half-written file."""
    ws = _workspace(tmp_path)
    writer = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
         "time.sleep(60)", str(ws / "workbench.duckdb")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert writer.stdout.readline().strip() == "open"
        result = _run([str(K3S / "backup.sh"), "--workspace", str(ws), "--output", str(tmp_path / "b")])
        assert result.returncode != 0
        assert "lock" in result.stderr.lower()
        assert not list((tmp_path / "b").glob("*.tar.gz")) if (tmp_path / "b").exists() else True
    finally:
        writer.kill()
        writer.wait()
    time.sleep(0.1)
    _backup(ws, tmp_path / "b")  # the lock released, the backup goes through


def test_secrets_are_masked_in_printed_actions() -> None:
    script = (
        f'source "{K3S / "lib.sh"}"; DRY_RUN=1; secret "s3cr3t-value-123"; run echo "token=s3cr3t-value-123"'
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "+ echo token=***"
    assert "s3cr3t" not in result.stdout + result.stderr


def test_versions_agree_across_scripts_and_docs() -> None:
    lib = (K3S / "lib.sh").read_text()
    k3s = re.search(r"K3S_VERSION=\$\{K3S_VERSION:-([^}]+)\}", lib).group(1)
    variables = (ROOT / "infra" / "terraform" / "variables.tf").read_text()
    assert f'default     = "{k3s}"' in variables
    assert k3s in (ROOT / "docs" / "deploy.md").read_text()
