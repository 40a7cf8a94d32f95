#!/usr/bin/env bash
# Back up a workbench workspace folder, or a K3s node of the Trading Workbench, into one .tar.gz
# with a MANIFEST.sha256 of every file (restore.sh verifies it before touching anything).
#
#   infra/k3s/backup.sh --workspace ~/workbench --output /backups         # a workspace folder
#   sudo infra/k3s/backup.sh --cluster --output /backups                  # this K3s node
#   infra/k3s/backup.sh --dry-run --workspace ~/workbench --output /backups
#
# A workspace is workbench.duckdb (+ its .wal), raw/ and parquet/; it is copied while the DuckDB file
# is held open read-only, so no writer can change it mid-copy (writers wait, WORKBENCH_LOCK_WAIT).
# --cluster takes this node's K3s datastore and token (on the master), its local-path volumes (user
# homes, the hub database, Chroma, Prometheus; Ollama's models only with --with-models) and the NFS
# exports under /srv/workbench. Stop user servers first (hub admin page) for consistent homes.
# The last line printed is "backup: <archive path>".
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") (--workspace DIR | --cluster [--with-models]) --output DIR [--dry-run]

  --workspace DIR   a workbench workspace folder (contains workbench.duckdb)
  --cluster         this K3s node: datastore, local-path volumes, $NFS_ROOT (run as root)
  --with-models     with --cluster: include Ollama's model volume (tens of GB)
  --output DIR      where the archive goes (created)
  --dry-run         print every action, change nothing
Environment: WORKBENCH_PYTHON, a Python with duckdb (default: python3).
EOF
}

WORKSPACE=""
CLUSTER=0
MODELS=0
OUTPUT=""
while (($#)); do
  case $1 in
    --workspace) WORKSPACE=${2:?--workspace needs a folder}; shift 2 ;;
    --cluster) CLUSTER=1; shift ;;
    --with-models) MODELS=1; shift ;;
    --output) OUTPUT=${2:?--output needs a folder}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ -n $OUTPUT ]] || die "--output is required"
[[ -n $WORKSPACE || $CLUSTER == 1 ]] || die "give --workspace DIR or --cluster"
[[ -z $WORKSPACE || $CLUSTER == 0 ]] || die "give either --workspace or --cluster, not both"
PY=${WORKBENCH_PYTHON:-python3}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)

if [[ $DRY_RUN == 1 ]]; then
  STAGE="<staging-dir>"
else
  STAGE=$(mktemp -d "${TMPDIR:-/tmp}/workbench-backup.XXXXXX")
  trap 'rm -rf "$STAGE"' EXIT
fi

if [[ -n $WORKSPACE ]]; then
  [[ -f $WORKSPACE/workbench.duckdb ]] || die "$WORKSPACE: not a workspace (no workbench.duckdb)"
  WORKSPACE=$(cd "$WORKSPACE" && pwd)
  ARCHIVE="$OUTPUT/workbench-$(basename "$WORKSPACE")-$STAMP.tar.gz"
  CONTENT=workspace
  log "workspace $WORKSPACE"
  if "$PY" -c "import duckdb" >/dev/null 2>&1; then
    run "$PY" "$HERE/workspace_tool.py" copy-locked "$WORKSPACE" "$STAGE/workspace"
  else
    warn "$PY has no duckdb module: copying without the DuckDB lock (stop writers first)"
    run cp -a "$WORKSPACE" "$STAGE/workspace"
  fi
else
  need_root
  ARCHIVE="$OUTPUT/workbench-node-$(hostname -s)-$STAMP.tar.gz"
  CONTENT=rootfs
  K3S=/var/lib/rancher/k3s
  run mkdir -p "$STAGE/rootfs"
  if [[ $DRY_RUN == 1 || -f $K3S/server/db/state.db ]]; then
    log "K3s datastore and token (server node)"
    run mkdir -p "$STAGE/rootfs$K3S/server/db"
    run sqlite3 "$K3S/server/db/state.db" ".backup '$STAGE/rootfs$K3S/server/db/state.db'"
    run cp -a "$K3S/server/token" "$STAGE/rootfs$K3S/server/token"
  fi
  EXCLUDE=()
  ((MODELS)) || EXCLUDE=(--exclude='*_databases_ollama*')
  for dir in "$K3S/storage" "$NFS_ROOT"; do
    if [[ $DRY_RUN == 1 || -d $dir ]]; then
      log "files under $dir"
      run mkdir -p "$STAGE/rootfs$dir"
      run_sh "tar -C '$dir' ${EXCLUDE[*]} -cf - . | tar -C '$STAGE/rootfs$dir' -xpf -"
    fi
  done
fi

log "manifest and archive"
run_sh "cd '$STAGE' && find $CONTENT -type f -print0 | sort -z | xargs -0 -r sha256sum > MANIFEST.sha256"
run mkdir -p "$OUTPUT"
run tar -C "$STAGE" -czf "$ARCHIVE.partial" MANIFEST.sha256 "$CONTENT"
run mv "$ARCHIVE.partial" "$ARCHIVE"
if [[ $DRY_RUN == 1 ]]; then echo "dry run: would write $ARCHIVE"; else echo "backup: $ARCHIVE"; fi
