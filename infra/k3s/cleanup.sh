#!/usr/bin/env bash
# Remove the Trading Workbench from the cluster, and optionally K3s from this node.
#
#   infra/k3s/cleanup.sh --dry-run             # print what would be removed
#   infra/k3s/cleanup.sh --yes                 # helm releases, RayCluster, manifests, namespaces
#   sudo infra/k3s/cleanup.sh --yes --node     # ... and uninstall K3s from this node
#
# Volumes: deleting the namespaces deletes the user-home, hub-database, Chroma, Ollama and Prometheus
# PVCs (local-path deletes their data). The NFS-backed team-data and ray-results PVs are Retain: their
# files under /srv/workbench stay. Back up first (backup.sh --cluster).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() {
  cat <<USAGE
usage: $(basename "$0") (--yes | --dry-run) [--node]

  --yes       really remove (there is no undo; back up first)
  --node      also uninstall K3s from this machine (k3s-uninstall.sh or k3s-agent-uninstall.sh)
  --dry-run   print every action, change nothing
USAGE
}

YES=0
NODE=0
while (($#)); do
  case $1 in
    --yes) YES=1; shift ;;
    --node) NODE=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ $YES == 1 || $DRY_RUN == 1 ]] || die "this deletes the deployment and its volumes: pass --yes (or --dry-run)"
need kubectl "nothing to clean: kubectl is not installed"
need helm "install helm to remove the releases (setup-master.sh does)"

log "helm releases"
run helm uninstall jupyterhub --namespace trading-system --ignore-not-found --wait
run helm uninstall chromadb --namespace databases --ignore-not-found
run helm uninstall ollama --namespace databases --ignore-not-found
run kubectl delete -f "$REPO/infra/kuberay/raycluster.yaml" --ignore-not-found --wait
run helm uninstall kuberay-operator --namespace trading-system --ignore-not-found
run helm uninstall kube-prometheus-stack --namespace monitoring --ignore-not-found

log "manifests and namespaces"
run kubectl delete -f "$REPO/infra/k8s/networkpolicies.yaml" --ignore-not-found
run kubectl delete -f "$REPO/infra/k8s/rbac.yaml" --ignore-not-found
run kubectl delete -f "$REPO/infra/k8s/pvcs.yaml" --ignore-not-found
run kubectl delete -f "$REPO/infra/k8s/namespaces.yaml" --ignore-not-found --wait

if ((NODE)); then
  need_root
  log "K3s on this node"
  if [[ $DRY_RUN == 1 || -x /usr/local/bin/k3s-uninstall.sh ]]; then
    run /usr/local/bin/k3s-uninstall.sh
  elif [[ -x /usr/local/bin/k3s-agent-uninstall.sh ]]; then
    run /usr/local/bin/k3s-agent-uninstall.sh
  else
    warn "no K3s uninstall script on this node"
  fi
fi
