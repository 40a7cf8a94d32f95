#!/usr/bin/env bash
# Turn a bare Ubuntu machine into the K3s server (control plane) of the Trading Workbench:
# packages, the NFS exports for team data and Ray results, K3s itself, and Helm.
#
#   sudo infra/k3s/setup-master.sh --node-ip 10.0.0.10 --lan 10.0.0.0/24
#   infra/k3s/setup-master.sh --dry-run --node-ip 10.0.0.10 --lan 10.0.0.0/24   # print, change nothing
#
# Afterwards it prints the command that joins a worker (infra/k3s/add-worker.sh).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") --node-ip IP --lan CIDR [--token-file FILE] [--k3s-version V] [--dry-run]

  --node-ip IP      this machine's address on the team LAN (workers and users reach it there)
  --lan CIDR        the LAN the workers are on; the NFS exports are limited to it
  --token-file F    where the cluster join token is kept (default /etc/rancher/k3s/workbench-token);
                    created with a random value if missing
  --k3s-version V   K3s release (default $K3S_VERSION)
  --dry-run         print every action, change nothing
EOF
}

NODE_IP=""
LAN=""
TOKEN_FILE=/etc/rancher/k3s/workbench-token
while (($#)); do
  case $1 in
    --node-ip) NODE_IP=${2:?--node-ip needs an address}; shift 2 ;;
    --lan) LAN=${2:?--lan needs a CIDR}; shift 2 ;;
    --token-file) TOKEN_FILE=${2:?--token-file needs a path}; shift 2 ;;
    --k3s-version) K3S_VERSION=${2:?--k3s-version needs a version}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ -n $NODE_IP ]] || die "--node-ip is required (this machine's LAN address)"
[[ -n $LAN ]] || die "--lan is required (e.g. 10.0.0.0/24), the NFS exports are limited to it"
need_root

log "packages"
run apt-get update -q
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl ca-certificates openssl \
  nfs-kernel-server nfs-common sqlite3 docker.io

log "NFS exports under $NFS_ROOT (team data read-only for the cluster, Ray results read-write)"
run install -d -m 0755 -o 1000 -g 100 "$NFS_ROOT/team-data" "$NFS_ROOT/ray-results"
run install -d -m 0755 /etc/exports.d
run_sh "printf '%s\n' '$NFS_ROOT/team-data $LAN(ro,sync,no_subtree_check,root_squash)' \
'$NFS_ROOT/ray-results $LAN(rw,sync,no_subtree_check,root_squash)' > /etc/exports.d/workbench.exports"
run exportfs -ra
run systemctl enable --now nfs-server

log "cluster token in $TOKEN_FILE"
if [[ $DRY_RUN == 1 || ! -s $TOKEN_FILE ]]; then
  run install -d -m 0700 "$(dirname "$TOKEN_FILE")"
  run_sh "umask 077 && openssl rand -hex 32 > '$TOKEN_FILE'"
fi
log "K3s $K3S_VERSION server (traefik and local-path included, NetworkPolicies enforced)"
run_sh "curl -sfL https://get.k3s.io | INSTALL_K3S_VERSION='$K3S_VERSION' K3S_TOKEN_FILE='$TOKEN_FILE' sh -s - server --token-file '$TOKEN_FILE' \
--node-ip '$NODE_IP' --advertise-address '$NODE_IP' --write-kubeconfig-mode 0600 \
--node-label workbench.io/role=master"
run k3s kubectl wait --for=condition=Ready node --all --timeout=300s

log "Helm $HELM_VERSION"
run_sh "curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3 | DESIRED_VERSION='$HELM_VERSION' bash"
run install -d -m 0700 /root/.kube
run cp /etc/rancher/k3s/k3s.yaml /root/.kube/config

cat <<EOF

The master is ready. Join each worker with (run on the worker, as root):
  infra/k3s/add-worker.sh --server $NODE_IP --token-file <copy of $TOKEN_FILE> --node-ip <worker-ip>
Then deploy from here:
  infra/k3s/deploy.sh --nfs-server $NODE_IP --nodes "<worker-ip> <worker-ip>"
EOF
