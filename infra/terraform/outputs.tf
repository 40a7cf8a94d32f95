output "kube_api" {
  description = "The cluster's API endpoint."
  value       = "https://${var.master.address}:6443"
}

output "hub_url" {
  description = "Where the hub answers once infra/k3s/deploy.sh has run (traefik on every node)."
  value       = "http://${var.master.address}/"
}

output "nodes" {
  description = "Every node with its size label."
  value = merge(
    { (var.master.address) = { role = "master", size = var.master.size, gpu = false } },
    { for a, w in local.workers : a => { role = "worker", size = w.size, gpu = w.gpu } },
  )
}

output "next_step" {
  description = "What to run next, on the master."
  value       = "ssh ${var.master.ssh_user}@${var.master.address} and run: infra/k3s/deploy.sh --nfs-server ${var.master.address} --nodes \"${join(" ", keys(local.workers))}\""
}
