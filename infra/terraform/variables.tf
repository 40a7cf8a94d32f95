# Inputs: the three (or more) bare Ubuntu machines, how to reach them over SSH, and their sizes.

variable "master" {
  description = "The K3s server: LAN address, SSH user (with passwordless sudo) and size label."
  type = object({
    address  = string
    ssh_user = string
    size     = optional(string, "small")
  })

  validation {
    condition     = can(cidrhost("${var.master.address}/32", 0))
    error_message = "master.address must be an IPv4 address."
  }
  validation {
    condition     = contains(["small", "large"], var.master.size)
    error_message = "master.size must be \"small\" or \"large\"."
  }
}

variable "workers" {
  description = "The K3s agents: LAN address, SSH user, size label (small/large) and whether it has an NVIDIA GPU."
  type = list(object({
    address  = string
    ssh_user = string
    size     = optional(string, "small")
    gpu      = optional(bool, false)
  }))
  default = []

  validation {
    condition     = alltrue([for w in var.workers : can(cidrhost("${w.address}/32", 0))])
    error_message = "every workers[*].address must be an IPv4 address."
  }
  validation {
    condition     = alltrue([for w in var.workers : contains(["small", "large"], w.size)])
    error_message = "every workers[*].size must be \"small\" or \"large\"."
  }
  validation {
    condition     = length(distinct([for w in var.workers : w.address])) == length(var.workers)
    error_message = "workers[*].address must be unique."
  }
}

variable "ssh_private_key_path" {
  description = "Private key that logs in as the ssh_user of every node."
  type        = string
  default     = "~/.ssh/id_ed25519"
}

variable "lan_cidr" {
  description = "The team LAN the nodes are on; the master's NFS exports are limited to it."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.lan_cidr))
    error_message = "lan_cidr must be an IPv4 CIDR such as 10.0.0.0/24."
  }
}

variable "k3s_version" {
  description = "K3s release installed on every node (the same on all of them)."
  type        = string
  default     = "v1.33.5+k3s1"

  validation {
    condition     = can(regex("^v1\\.[0-9]+\\.[0-9]+\\+k3s[0-9]+$", var.k3s_version))
    error_message = "k3s_version looks like v1.33.5+k3s1."
  }
}
