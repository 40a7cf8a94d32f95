#!/usr/bin/env bash
# Join a bare Ubuntu machine to the Trading Workbench K3s cluster as a worker (agent).
#
#   sudo infra/k3s/add-worker.sh --server 10.0.0.10 --token-file ./workbench-token --node-ip 10.0.0.11
#   infra/k3s/add-worker.sh --dry-run --server 10.0.0.10 --token-file ./t --node-ip 10.0.0.11
#
# --size labels the node (workbench.io/size=small|large) so the "large" profile and Ray workers can
# be steered to the bigger machine; --gpu also labels it for Ollama's GPU overlay.
#
# The workbench image: pods run it with imagePullPolicy: Never (no registry), so every node needs it in
# its own containerd. This script copies it from the master (ssh, the access the join token came by),
# or from a tarball (--image-tar), into K3s's image folder (imported at every agent start) and imports
# it now. On a first install the master has no image yet: deploy.sh --nodes copies it to every node.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") --server IP --token-file FILE --node-ip IP [--size small|large] [--gpu]
                 [--image-from USER@HOST | --image-tar FILE | --no-image] [--dry-run]

  --server IP       the master's LAN address (setup-master.sh --node-ip)
  --token-file F    a copy of the master's /etc/rancher/k3s/workbench-token
  --node-ip IP      this machine's LAN address
  --size S          small or large (default small): node label workbench.io/size
  --gpu             label the node nvidia.com/gpu.present=true (install the NVIDIA driver and
                    container toolkit first, docs/deploy.md)
  --image-from T    ssh target holding the workbench image in its K3s containerd (default:
                    root@SERVER, the master deploy.sh imported it into); nothing to copy yet
                    (first install, before deploy.sh) is a note, not an error
  --image-tar FILE  the image as a tarball instead (docker save / k3s ctr images export)
  --no-image        don't copy the image (deploy.sh --nodes "... THIS-IP" will)
  --k3s-version V   K3s release (default $K3S_VERSION), must match the master
  --dry-run         print every action, change nothing
EOF
}

SERVER=""
TOKEN_FILE=""
NODE_IP=""
SIZE=small
GPU=0
IMAGE_FROM=""
IMAGE_FILE=""
IMAGE=1
while (($#)); do
  case $1 in
    --server) SERVER=${2:?--server needs an address}; shift 2 ;;
    --token-file) TOKEN_FILE=${2:?--token-file needs a path}; shift 2 ;;
    --node-ip) NODE_IP=${2:?--node-ip needs an address}; shift 2 ;;
    --size) SIZE=${2:?--size needs small or large}; shift 2 ;;
    --gpu) GPU=1; shift ;;
    --image-from) IMAGE_FROM=${2:?--image-from needs an ssh target}; shift 2 ;;
    --image-tar) IMAGE_FILE=${2:?--image-tar needs a path}; shift 2 ;;
    --no-image) IMAGE=0; shift ;;
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
[[ -z $IMAGE_FROM || -z $IMAGE_FILE ]] || die "--image-from and --image-tar exclude each other"
((IMAGE)) || [[ -z $IMAGE_FROM$IMAGE_FILE ]] || die "--no-image excludes --image-from and --image-tar"
IMAGE_FROM=${IMAGE_FROM:-root@$SERVER}
need_root

if [[ $DRY_RUN != 1 ]]; then
  [[ -s $TOKEN_FILE ]] || die "token file $TOKEN_FILE is missing or empty"
  [[ -z $IMAGE_FILE || -s $IMAGE_FILE ]] || die "image tarball $IMAGE_FILE is missing or empty"
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

# K3s imports every tarball in this folder when the agent starts (its air-gap image mechanism)
IMAGE_DIR=/var/lib/rancher/k3s/agent/images
IMAGE_TAR=$IMAGE_DIR/workbench-singleuser.tar
HAVE_IMAGE=0
if ((IMAGE)); then
  log "workbench image $WORKBENCH_IMAGE (pods use imagePullPolicy: Never: each node holds it)"
  run install -d -m 0755 "$IMAGE_DIR"
  if [[ -n $IMAGE_FILE ]]; then
    run install -m 0644 "$IMAGE_FILE" "$IMAGE_TAR"
    HAVE_IMAGE=1
  else
    SSH=(ssh -o BatchMode=yes -o ConnectTimeout=15 "$IMAGE_FROM")
    if [[ $DRY_RUN != 1 ]]; then  # read-only: does the master hold the image yet?
      LISTED=$("${SSH[@]}" sudo k3s ctr images ls -q) ||
        die "cannot list the images on $IMAGE_FROM over ssh; give --image-from USER@HOST, --image-tar FILE or --no-image"
      if grep -Fqx "$WORKBENCH_IMAGE" <<<"$LISTED"; then HAVE_IMAGE=1; fi
    else
      HAVE_IMAGE=1
    fi
    if ((HAVE_IMAGE)); then
      run_sh "${SSH[*]} sudo k3s ctr images export - '$WORKBENCH_IMAGE' > '$IMAGE_TAR.part' && mv '$IMAGE_TAR.part' '$IMAGE_TAR'"
    else
      warn "$IMAGE_FROM has no $WORKBENCH_IMAGE yet (first install?): deploy.sh --nodes \"... $NODE_IP\" copies it"
    fi
  fi
fi

log "K3s $K3S_VERSION agent joining https://$SERVER:6443"
run_sh "curl -sfL https://get.k3s.io | INSTALL_K3S_VERSION='$K3S_VERSION' K3S_URL='https://$SERVER:6443' \
K3S_TOKEN_FILE='$NODE_TOKEN' sh -s - agent --token-file '$NODE_TOKEN' --node-ip '$NODE_IP' ${LABELS[*]}"
run systemctl is-active --quiet k3s-agent

if ((HAVE_IMAGE)); then
  log "import $WORKBENCH_IMAGE now and check it is there"
  run k3s ctr images import "$IMAGE_TAR"
  run_sh "k3s ctr images ls -q | grep -Fqx '$WORKBENCH_IMAGE'"
fi

cat <<EOF

Worker $NODE_IP joined. Check from the master:  k3s kubectl get nodes -o wide
EOF
