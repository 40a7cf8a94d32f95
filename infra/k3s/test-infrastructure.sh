#!/usr/bin/env bash
# Check a deployed Trading Workbench cluster end to end; prints PASS/FAIL per check and exits
# non-zero when any check fails.
#
#   infra/k3s/test-infrastructure.sh --host 10.0.0.10
#   infra/k3s/test-infrastructure.sh --dry-run --host 10.0.0.10    # print the checks, run nothing
#
# Checks: nodes Ready; the hub, proxy, Ray head, Ollama and Chroma pods Ready; the hub answers through
# traefik; the Ray Jobs API answers with the token (and refuses without it); Chroma and Ollama answer
# from inside trading-system; and a pod outside trading-system cannot reach Chroma (NetworkPolicy).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") --host IP [--dry-run]

  --host IP   a node's address (the hub is served by traefik on every node)
  --dry-run   print the checks, run nothing
EOF
}

HOST=""
while (($#)); do
  case $1 in
    --host) HOST=${2:?--host needs an address}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ -n $HOST ]] || die "--host is required (a node's address)"
need kubectl "install K3s first (infra/k3s/setup-master.sh) or point KUBECONFIG at the cluster"
need curl "apt-get install curl"

FAILED=0
PROBE_IMAGE=docker.io/curlimages/curl:8.11.1

report() {
  if [[ $2 == 0 ]]; then printf 'PASS  %s\n' "$1"; else printf 'FAIL  %s\n' "$1"; FAILED=1; fi
}

# check NAME CMD...: print CMD; unless dry-run, run it and report PASS when it succeeds.
check() {
  local name=$1
  shift
  _show "$@"
  [[ $DRY_RUN == 1 ]] && return 0
  if "$@" >/dev/null 2>&1; then report "$name" 0; else report "$name" 1; fi
}

# check_refused NAME CMD...: the same, PASS when the command fails (something is kept out).
check_refused() {
  local name=$1
  shift
  _show "$@"
  [[ $DRY_RUN == 1 ]] && return 0
  if "$@" >/dev/null 2>&1; then report "$name" 1; else report "$name" 0; fi
}

# probe NAMESPACE LABELS URL [CURL-ARGS...]: sets PROBE to a throwaway curl pod command (policies apply).
probe() {
  local ns=$1 labels=$2 url=$3
  shift 3
  PROBE=(kubectl -n "$ns" run "probe-$RANDOM" --rm -i --restart=Never --quiet --labels="$labels"
    --image="$PROBE_IMAGE" --command -- curl -fsS --max-time 10 "$@" "$url")
}

RAY_TOKEN=""
CHROMA_TOKEN=""
if [[ $DRY_RUN != 1 ]]; then
  RAY_TOKEN=$(kubectl -n trading-system get secret workbench-ray-auth -o jsonpath='{.data.auth_token}' | base64 -d)
  CHROMA_TOKEN=$(kubectl -n trading-system get secret chromadb-auth -o jsonpath='{.data.token}' | base64 -d)
fi
secret "$RAY_TOKEN"
secret "$CHROMA_TOKEN"

RAY=http://workbench-ray-head-svc.trading-system.svc.cluster.local:8265
CHROMA=http://chromadb.databases.svc.cluster.local:8000
OLLAMA=http://ollama.databases.svc.cluster.local:11434
USERPOD=component=singleuser-server

check "nodes Ready" kubectl wait --for=condition=Ready node --all --timeout=60s
check "hub Ready" kubectl -n trading-system wait --for=condition=Ready pod -l component=hub --timeout=120s
check "proxy Ready" kubectl -n trading-system wait --for=condition=Ready pod -l component=proxy --timeout=120s
check "Ray head Ready" kubectl -n trading-system wait --for=condition=Ready pod \
  -l ray.io/cluster=workbench-ray,ray.io/node-type=head --timeout=300s
check "Ollama Ready" kubectl -n databases wait --for=condition=Ready pod -l app.kubernetes.io/name=ollama --timeout=600s
check "Chroma Ready" kubectl -n databases wait --for=condition=Ready pod -l app.kubernetes.io/name=chromadb --timeout=300s
check "hub answers through traefik" curl -fsS --max-time 10 "http://$HOST/hub/health"
probe trading-system "$USERPOD" "$RAY/api/version" -H "Authorization: Bearer $RAY_TOKEN"
check "Ray Jobs API answers with the token" "${PROBE[@]}"
probe trading-system "$USERPOD" "$RAY/api/jobs/"
check_refused "Ray Jobs API refuses requests without the token" "${PROBE[@]}"
# Chroma 0.6 serves the heartbeat under /api/v2 (and the deprecated /api/v1).
probe trading-system "$USERPOD" "$CHROMA/api/v2/heartbeat" -H "Authorization: Bearer $CHROMA_TOKEN"
check "Chroma heartbeat with the token" "${PROBE[@]}"
probe trading-system "$USERPOD" "$CHROMA/api/v2/tenants/default_tenant/databases/default_database/collections"
check_refused "Chroma refuses listing collections without the token" "${PROBE[@]}"
probe trading-system "$USERPOD" "$OLLAMA/api/tags"
check "Ollama lists its models" "${PROBE[@]}"
probe default app=probe "$CHROMA/api/v2/heartbeat"
check_refused "Chroma unreachable from outside trading-system (NetworkPolicy)" "${PROBE[@]}"

if ((FAILED)); then
  die "some checks failed (see FAIL lines above)"
fi
[[ $DRY_RUN == 1 ]] || log "all checks passed"
