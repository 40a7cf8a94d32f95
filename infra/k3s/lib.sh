# shellcheck shell=bash
# Shared helpers for the infra/k3s scripts (sourced, never run).
#
# Every action that changes something goes through `run` (or `run_sh` for a pipeline): it prints
# the command as "+ <command>" and, unless DRY_RUN=1, runs it. So `--dry-run` prints every action
# and changes nothing. Secrets registered with `secret` are shown as *** in what is printed.

DRY_RUN=${DRY_RUN:-0}
_SECRETS=()

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# secret VALUE: never print VALUE in "+ ..." lines (values under 8 characters are not secrets).
secret() { ((${#1} >= 8)) && _SECRETS+=("$1"); return 0; }

_mask() {
  local text=$1 s q
  for s in "${_SECRETS[@]+"${_SECRETS[@]}"}"; do
    q=$(printf '%q' "$s")
    text=${text//"$q"/***}
    text=${text//"$s"/***}
  done
  printf '%s' "$text"
}

_show() {
  local out=() a
  for a in "$@"; do out+=("$(printf '%q' "$a")"); done
  printf '+ %s\n' "$(_mask "${out[*]}")"
}

# run CMD ARGS...: print, then run unless dry-run.
run() {
  _show "$@"
  [[ $DRY_RUN == 1 ]] && return 0
  "$@"
}

# run_sh 'pipeline | with > redirections': the same for a shell snippet.
run_sh() {
  printf '+ %s\n' "$(_mask "$1")"
  [[ $DRY_RUN == 1 ]] && return 0
  bash -o pipefail -c "$1"
}

# need TOOL HOW-TO-INSTALL: fail unless TOOL is on PATH (skipped in dry-run).
need() {
  [[ $DRY_RUN == 1 ]] && return 0
  command -v "$1" >/dev/null 2>&1 || die "$1 not found; $2"
}

need_root() {
  [[ $DRY_RUN == 1 ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "run as root (sudo $0 ...), or with --dry-run to see what it would do"
}

# The pinned versions every script agrees on.
K3S_VERSION=${K3S_VERSION:-v1.33.5+k3s1}
HELM_VERSION=${HELM_VERSION:-v3.19.0}
WORKBENCH_IMAGE=${WORKBENCH_IMAGE:-docker.io/workbench/singleuser:0.1.0}
NFS_ROOT=${NFS_ROOT:-/srv/workbench}
