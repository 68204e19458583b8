#!/bin/bash
# Ledgerly instance bootstrap (EC2 user-data, run once by cloud-init as root on first boot):
# the Docker engine and its compose plugin from Ubuntu's archive, the login user in the docker
# group (ledgerctl deploy talks to the engine over SSH as that user), then a marker file that
# says the host is ready for a deploy.
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q docker.io docker-compose-v2 unattended-upgrades
systemctl enable --now docker
usermod -aG docker {{ssh_user}}
install -d -m 0755 /var/lib/ledgerly
touch /var/lib/ledgerly/bootstrapped
