# The K3s nodes of the Trading Workbench as code. Terraform only drives SSH: it copies
# infra/k3s/ to each machine and runs the same scripts a person would (setup-master.sh on the
# master, then add-worker.sh on every worker). Deploying the workbench onto the cluster is
# infra/k3s/deploy.sh, run on the master afterwards (docs/deploy.md); it builds the workbench image
# and copies it to every node, hence add-worker.sh --no-image here (the image does not exist yet).

locals {
  scripts_dir    = "${path.module}/../k3s"
  remote_dir     = "/tmp/workbench-k3s"
  token_path     = "/etc/rancher/k3s/workbench-token"
  scripts        = ["lib.sh", "setup-master.sh", "add-worker.sh"]
  scripts_sha256 = sha256(join("", [for f in local.scripts : filesha256("${local.scripts_dir}/${f}")]))
  workers        = { for w in var.workers : w.address => w }
}

# The join token: generated once, kept in the Terraform state (keep the state private), written
# to the master before K3s starts and to every worker.
resource "random_password" "k3s_token" {
  length  = 48
  special = false
}

resource "terraform_data" "master" {
  triggers_replace = [var.master.address, var.k3s_version, local.scripts_sha256]

  connection {
    type        = "ssh"
    host        = var.master.address
    user        = var.master.ssh_user
    private_key = file(pathexpand(var.ssh_private_key_path))
  }

  provisioner "remote-exec" {
    inline = ["mkdir -p ${local.remote_dir}"]
  }

  provisioner "file" {
    source      = "${local.scripts_dir}/"
    destination = local.remote_dir
  }

  provisioner "file" {
    content     = random_password.k3s_token.result
    destination = "${local.remote_dir}/token"
  }

  provisioner "remote-exec" {
    inline = [
      "sudo install -d -m 0700 /etc/rancher/k3s",
      "sudo install -m 0600 ${local.remote_dir}/token ${local.token_path}",
      "rm -f ${local.remote_dir}/token",
      "sudo K3S_VERSION=${var.k3s_version} bash ${local.remote_dir}/setup-master.sh --node-ip ${var.master.address} --lan ${var.lan_cidr} --token-file ${local.token_path}",
      "sudo k3s kubectl label node --overwrite -l workbench.io/role=master workbench.io/size=${var.master.size}",
    ]
  }
}

resource "terraform_data" "worker" {
  for_each         = local.workers
  depends_on       = [terraform_data.master]
  triggers_replace = [each.value.address, each.value.size, each.value.gpu, var.k3s_version, local.scripts_sha256]

  connection {
    type        = "ssh"
    host        = each.value.address
    user        = each.value.ssh_user
    private_key = file(pathexpand(var.ssh_private_key_path))
  }

  provisioner "remote-exec" {
    inline = ["mkdir -p ${local.remote_dir}"]
  }

  provisioner "file" {
    source      = "${local.scripts_dir}/"
    destination = local.remote_dir
  }

  provisioner "file" {
    content     = random_password.k3s_token.result
    destination = "${local.remote_dir}/token"
  }

  provisioner "remote-exec" {
    inline = [
      "sudo K3S_VERSION=${var.k3s_version} bash ${local.remote_dir}/add-worker.sh --server ${var.master.address} --token-file ${local.remote_dir}/token --node-ip ${each.value.address} --size ${each.value.size}${each.value.gpu ? " --gpu" : ""} --no-image",
      "rm -f ${local.remote_dir}/token",
    ]
  }
}
