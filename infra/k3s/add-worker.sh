#!/usr/bin/env bash
# Join a bare Ubuntu machine to the Trading Workbench K3s cluster as a worker (agent).
#
#   sudo infra/k3s/add-worker.sh --server 10.0.0.10 --token-file ./workbench-token --node-ip 10.0.0.11
#   infra/k3s/add-worker.sh --dry-run --server 10.0.0.10 --token-file ./t --node-ip 10.0.0.11
#
# --size labels the node (workbench.io/size=small|large) so the "large" profile and Ray workers can
# be steered to the bigger machine; --gpu also labels it for Ollama's GPU overlay.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") --server IP --token-file FILE --node-ip IP [--size small|large] [--gpu] [--dry-run]

  --server IP       the master's LAN address (setup-master.sh --node-ip)
  --token-file F    a copy of the master's /etc/rancher/k3s/workbench-token
  --node-ip IP      this machine's LAN address
  --size S          small or large (default small): node label workbench.io/size
  --gpu             label the node nvidia.com/gpu.present=true (install the NVIDIA driver and
                    container toolkit first, docs/deploy.md)
  --k3s-version V   K3s release (default $K3S_VERSION), must match the master
  --dry-run         print every action, change nothing
EOF
}

SERVER=""
TOKEN_FILE=""
NODE_IP=""
SIZE=small
GPU=0
while (($#)); do
  case $1 in
    --server) SERVER=${2:?--server needs an address}; shift 2 ;;
    --token-file) TOKEN_FILE=${2:?--token-file needs a path}; shift 2 ;;
    --node-ip) NODE_IP=${2:?--node-ip needs an address}; shift 2 ;;
    --size) SIZE=${2:?--size needs small or large}; shift 2 ;;
    --gpu) GPU=1; shift ;;
    --k3s-version) K3S_VERSION=${2:?--k3s-version needs a version}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ -n $SERVER ]] || die "--server is required (the master's address)"
[[ -n $TOKEN_FILE ]] || die "--token-file is required (a copy of the master's join token)"
[[ -n $NODE_IP ]] || die "--node-ip is required (this machine's LAN address)"
[[ $SIZE == small || $SIZE == large ]] || die "--size must be small or large, got $SIZE"
need_root

if [[ $DRY_RUN != 1 ]]; then
  [[ -s $TOKEN_FILE ]] || die "token file $TOKEN_FILE is missing or empty"
fi
# K3s reads the token from this file at every start; it never appears on a command line.
NODE_TOKEN=/etc/rancher/k3s/workbench-token

LABELS=(--node-label "workbench.io/size=$SIZE")
((GPU)) && LABELS+=(--node-label nvidia.com/gpu.present=true)

log "packages (nfs-common mounts the team data and Ray results volumes)"
run apt-get update -q
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl ca-certificates nfs-common

log "join token in $NODE_TOKEN"
run install -d -m 0700 "$(dirname "$NODE_TOKEN")"
run install -m 0600 "$TOKEN_FILE" "$NODE_TOKEN"

log "K3s $K3S_VERSION agent joining https://$SERVER:6443"
run_sh "curl -sfL https://get.k3s.io | INSTALL_K3S_VERSION='$K3S_VERSION' K3S_URL='https://$SERVER:6443' \
K3S_TOKEN_FILE='$NODE_TOKEN' sh -s - agent --token-file '$NODE_TOKEN' --node-ip '$NODE_IP' ${LABELS[*]}"
run systemctl is-active --quiet k3s-agent

cat <<EOF

Worker $NODE_IP joined. Check from the master:  k3s kubectl get nodes -o wide
EOF
