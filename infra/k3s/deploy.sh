#!/usr/bin/env bash
# Deploy the Trading Workbench onto the K3s cluster, from the master (or any machine with kubectl,
# helm and docker pointed at it):
#
#   infra/k3s/deploy.sh --nfs-server 10.0.0.10 --nodes "10.0.0.11 10.0.0.12"
#   infra/k3s/deploy.sh --dry-run --nfs-server 10.0.0.10     # print every action, change nothing
#
# Order: workbench image (built here, imported into every node's containerd) -> namespaces, RBAC,
# PVs/PVCs, NetworkPolicies -> Secrets (created once, never rotated by a rerun) -> monitoring ->
# KubeRay operator + RayCluster -> Ollama, ChromaDB -> JupyterHub. Rerunning upgrades in place.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

Z2JH_VERSION=4.4.0
KUBERAY_VERSION=1.7.0
OLLAMA_CHART_VERSION=1.77.0
CHROMA_CHART_VERSION=0.2.2
KPS_VERSION=${KPS_VERSION:-}   # kube-prometheus-stack; empty = the repository's newest

SSH_USER=${USER:-$(id -un)}

usage() {
  cat <<EOF
usage: $(basename "$0") --nfs-server IP [--nodes "IP IP"] [--ssh-user USER] [--gpu]
                 [--skip-image] [--skip-monitoring] [--dry-run]

  --nfs-server IP    the master's LAN address (it exports $NFS_ROOT, setup-master.sh)
  --nodes "IP ..."   the workers: the image is copied to each over ssh (sudo k3s ctr images import)
  --ssh-user USER    ssh user on the workers (default: $SSH_USER); needs passwordless sudo
  --gpu              run Ollama on a GPU node (infra/helm/ollama/values-gpu.yaml)
  --skip-image       don't build/import the image (it is already on every node)
  --skip-monitoring  don't install kube-prometheus-stack and the workbench rules/dashboard
  --dry-run          print every action, change nothing
EOF
}

NFS_SERVER=""
NODES=""
GPU=0
BUILD_IMAGE=1
MONITORING=1
while (($#)); do
  case $1 in
    --nfs-server) NFS_SERVER=${2:?--nfs-server needs an address}; shift 2 ;;
    --nodes) NODES=${2?--nodes needs a list}; shift 2 ;;
    --ssh-user) SSH_USER=${2:?--ssh-user needs a name}; shift 2 ;;
    --gpu) GPU=1; shift ;;
    --skip-image) BUILD_IMAGE=0; shift ;;
    --skip-monitoring) MONITORING=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ -n $NFS_SERVER ]] || die "--nfs-server is required (the master's LAN address)"
need kubectl "install K3s first (infra/k3s/setup-master.sh) or point KUBECONFIG at the cluster"
need helm "setup-master.sh installs it; or see https://helm.sh/docs/intro/install/"

K8S="$REPO/infra/k8s"
HELM="$REPO/infra/helm"
MON="$REPO/infra/monitoring"

# ensure_secret NAMESPACE NAME KEY=VALUE...: create the Secret unless it exists (values are masked).
ensure_secret() {
  local ns=$1 name=$2 args=() kv
  shift 2
  if [[ $DRY_RUN != 1 ]] && kubectl -n "$ns" get secret "$name" >/dev/null 2>&1; then
    log "secret $ns/$name exists, kept"
    return 0
  fi
  for kv in "$@"; do
    secret "${kv#*=}"
    args+=("--from-literal=$kv")
  done
  run kubectl -n "$ns" create secret generic "$name" "${args[@]}"
}

# random HEX-BYTES: a random value (a placeholder in dry-run).
random() {
  if [[ $DRY_RUN == 1 ]]; then printf '<random-%s-bytes>' "$1"; else openssl rand -hex "$1"; fi
}

if ((BUILD_IMAGE)); then
  log "workbench image $WORKBENCH_IMAGE"
  need docker "apt-get install docker.io (setup-master.sh does)"
  run docker build -f "$REPO/infra/docker/Dockerfile" -t "$WORKBENCH_IMAGE" "$REPO"
  run_sh "docker save '$WORKBENCH_IMAGE' | k3s ctr images import -"
  for node in $NODES; do
    run_sh "docker save '$WORKBENCH_IMAGE' | ssh '$SSH_USER@$node' sudo k3s ctr images import -"
  done
fi

log "namespaces, RBAC, volumes, network policies"
run kubectl apply -f "$K8S/namespaces.yaml"
run kubectl apply -f "$K8S/rbac.yaml"
run_sh "sed 's/__NFS_SERVER__/$NFS_SERVER/g' '$K8S/pvcs.yaml' | kubectl apply -f -"
run kubectl apply -f "$K8S/networkpolicies.yaml"

log "secrets (created once; read them back with kubectl get secret ... -o jsonpath)"
ensure_secret trading-system workbench-hub-auth "user-password=$(random 12)" "admin-password=$(random 24)"
ensure_secret trading-system workbench-ray-auth "auth_token=$(random 32)"
if [[ $DRY_RUN != 1 ]] && kubectl -n databases get secret chromadb-auth >/dev/null 2>&1; then
  CHROMA_TOKEN=$(kubectl -n databases get secret chromadb-auth -o jsonpath='{.data.token}' | base64 -d)
else
  CHROMA_TOKEN=$(random 32)
fi
secret "$CHROMA_TOKEN"
ensure_secret databases chromadb-auth "token=$CHROMA_TOKEN"
ensure_secret trading-system chromadb-auth "token=$CHROMA_TOKEN"

log "helm repositories"
run helm repo add jupyterhub https://hub.jupyter.org/helm-chart/ --force-update
run helm repo add kuberay https://ray-project.github.io/kuberay-helm/ --force-update
run helm repo add otwld https://helm.otwld.com/ --force-update
run helm repo add chroma https://amikos-tech.github.io/chromadb-chart/ --force-update
run helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
run helm repo update

if ((MONITORING)); then
  log "monitoring: kube-prometheus-stack, workbench scrape configs, alert rules, dashboard"
  ensure_secret monitoring grafana-admin "admin-user=admin" "admin-password=$(random 16)"
  run_sh "kubectl -n monitoring create secret generic workbench-scrape-configs \
--from-file=scrape-configs.yaml='$MON/scrape-configs.yaml' --dry-run=client -o yaml | kubectl apply -f -"
  run helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
    ${KPS_VERSION:+--version "$KPS_VERSION"} --namespace monitoring \
    --values "$HELM/kube-prometheus-stack/values.yaml" --wait --timeout 10m
  run_sh "{ printf 'apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: workbench\n  namespace: monitoring\nspec:\n'; \
sed 's/^/  /' '$MON/workbench-alerts.yml'; } | kubectl apply -f -"
  run_sh "kubectl -n monitoring create configmap workbench-dashboard \
--from-file=trading-workbench.json='$MON/grafana-dashboard.json' --dry-run=client -o yaml \
| kubectl label --local -f - grafana_dashboard=1 -o yaml | kubectl apply -f -"
fi

log "KubeRay operator $KUBERAY_VERSION and the workbench-ray cluster"
run helm upgrade --install kuberay-operator kuberay/kuberay-operator --version "$KUBERAY_VERSION" \
  --namespace trading-system --values "$HELM/kuberay-operator/values.yaml" --wait
run kubectl wait --for=condition=Established crd/rayclusters.ray.io crd/rayjobs.ray.io --timeout=120s
run kubectl apply -f "$REPO/infra/kuberay/raycluster.yaml"

log "Ollama and ChromaDB in databases"
OLLAMA_VALUES=(--values "$HELM/ollama/values.yaml")
((GPU)) && OLLAMA_VALUES+=(--values "$HELM/ollama/values-gpu.yaml")
run helm upgrade --install ollama otwld/ollama --version "$OLLAMA_CHART_VERSION" \
  --namespace databases "${OLLAMA_VALUES[@]}"
run helm upgrade --install chromadb chroma/chromadb --version "$CHROMA_CHART_VERSION" \
  --namespace databases --values "$HELM/chromadb/values.yaml"

log "JupyterHub $Z2JH_VERSION"
run helm upgrade --install jupyterhub jupyterhub/jupyterhub --version "$Z2JH_VERSION" \
  --namespace trading-system --values "$HELM/jupyterhub/values.yaml" --wait --timeout 10m

cat <<EOF

Deployed. The hub answers on http://$NFS_SERVER/ (and every node's address).
  admin login:   hubadmin / the admin password:
    kubectl -n trading-system get secret workbench-hub-auth -o jsonpath='{.data.admin-password}' | base64 -d
  team password (for users an admin added):
    kubectl -n trading-system get secret workbench-hub-auth -o jsonpath='{.data.user-password}' | base64 -d
Check everything with:  infra/k3s/test-infrastructure.sh --host $NFS_SERVER
EOF
