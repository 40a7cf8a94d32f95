#!/usr/bin/env bash
# Restore what backup.sh archived. The archive is unpacked beside the target and every file is
# checked against MANIFEST.sha256 (and no file may be missing or extra) before anything is replaced.
#
#   infra/k3s/restore.sh --archive /backups/workbench-lake-20260101T000000Z.tar.gz --workspace ~/workbench
#   sudo infra/k3s/restore.sh --cluster --archive /backups/workbench-node-master-....tar.gz
#   infra/k3s/restore.sh --dry-run --archive A.tar.gz --workspace ~/workbench
#
# An existing, non-empty workspace is only replaced with --force, and is then kept beside it as
# <workspace>.before-restore-<time>. --cluster stops K3s on this node, puts the files back in place
# and starts it again.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") --archive FILE (--workspace DIR [--force] | --cluster) [--dry-run]

  --archive FILE    an archive written by backup.sh
  --workspace DIR   restore a workspace archive into DIR
  --force           replace a non-empty DIR (kept as DIR.before-restore-<time>)
  --cluster         restore a node archive onto this K3s node (run as root; stops and starts K3s)
  --dry-run         print every action, change nothing
Environment: WORKBENCH_PYTHON, a Python with duckdb (default: python3), to list the restored tables.
EOF
}

ARCHIVE=""
WORKSPACE=""
CLUSTER=0
FORCE=0
while (($#)); do
  case $1 in
    --archive) ARCHIVE=${2:?--archive needs a file}; shift 2 ;;
    --workspace) WORKSPACE=${2:?--workspace needs a folder}; shift 2 ;;
    --cluster) CLUSTER=1; shift ;;
    --force) FORCE=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ -n $ARCHIVE ]] || die "--archive is required"
[[ -f $ARCHIVE || $DRY_RUN == 1 ]] || die "$ARCHIVE: no such archive"
[[ -n $WORKSPACE || $CLUSTER == 1 ]] || die "give --workspace DIR or --cluster"
[[ -z $WORKSPACE || $CLUSTER == 0 ]] || die "give either --workspace or --cluster, not both"
PY=${WORKBENCH_PYTHON:-python3}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)

if [[ -n $WORKSPACE ]]; then
  WORKSPACE=${WORKSPACE%/}
  PARENT=$(dirname "$WORKSPACE")
  CONTENT=workspace
  if [[ -d $WORKSPACE && -n $(ls -A "$WORKSPACE" 2>/dev/null) && $FORCE != 1 ]]; then
    die "$WORKSPACE exists and is not empty; --force replaces it (the old one is kept beside it)"
  fi
  [[ -d $PARENT || $DRY_RUN == 1 ]] || run mkdir -p "$PARENT"
else
  need_root
  PARENT=${TMPDIR:-/tmp}
  CONTENT=rootfs
fi

if [[ $DRY_RUN == 1 ]]; then
  STAGE="<staging-dir>"
else
  [[ -d $PARENT ]] || mkdir -p "$PARENT"
  STAGE=$(mktemp -d "$PARENT/.workbench-restore.XXXXXX")
  trap 'rm -rf "$STAGE"' EXIT
fi

log "unpack and verify $ARCHIVE"
run tar -C "$STAGE" -xzf "$ARCHIVE"
run_sh "cd '$STAGE' && sha256sum --quiet --strict -c MANIFEST.sha256"
# Every file must be in the manifest: an archive with extra files is not what backup.sh wrote.
run_sh "cd '$STAGE' && diff <(find $CONTENT -type f | sort) <(sed 's/^[0-9a-f]\{64\}  //' MANIFEST.sha256 | sort)"

if [[ -n $WORKSPACE ]]; then
  if [[ -d $WORKSPACE ]]; then
    if [[ -n $(ls -A "$WORKSPACE" 2>/dev/null) ]]; then
      run mv "$WORKSPACE" "$WORKSPACE.before-restore-$STAMP"
    else
      run rmdir "$WORKSPACE"
    fi
  fi
  run mv "$STAGE/workspace" "$WORKSPACE"
  if [[ $DRY_RUN != 1 ]] && "$PY" -c "import duckdb" >/dev/null 2>&1; then
    log "restored tables (rows):"
    "$PY" "$HERE/workspace_tool.py" tables "$WORKSPACE/workbench.duckdb" >&2
  fi
  [[ $DRY_RUN == 1 ]] && echo "dry run: would restore $WORKSPACE" || echo "restored: $WORKSPACE"
else
  log "K3s stops while its files are replaced"
  if [[ $DRY_RUN == 1 || -f /etc/systemd/system/k3s.service ]]; then
    UNIT=k3s
  else
    UNIT=k3s-agent
  fi
  run systemctl stop "$UNIT"
  run_sh "tar -C '$STAGE/rootfs' -cf - . | tar -C / -xpf -"
  run systemctl start "$UNIT"
  [[ $DRY_RUN == 1 ]] && echo "dry run: would restore node files" || echo "restored: node files from $ARCHIVE"
fi
