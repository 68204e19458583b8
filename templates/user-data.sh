#!/bin/bash
# Ledgerly instance bootstrap (EC2 user-data, run once by cloud-init as root on first boot):
# the Docker engine and its compose plugin from Ubuntu's archive, the login user in the docker
# group (ledgerctl deploy talks to the engine over SSH as that user), the instance-metadata guard
# (only the API's containers reach the instance role's credentials; set now and at every boot
# before Docker starts), sshd on `instance.ssh_port` when it is not 22, then a marker file that says the host is ready for a deploy.
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q docker.io docker-compose-v2 iptables unattended-upgrades

install -d -m 0755 /usr/local/sbin
cat > /usr/local/sbin/ledgerly-metadata-guard <<'GUARD'
{{metadata_guard}}
GUARD
chmod 0755 /usr/local/sbin/ledgerly-metadata-guard
cat > /etc/systemd/system/ledgerly-metadata-guard.service <<'UNIT'
[Unit]
Description=Ledgerly: the instance metadata for the API containers alone
Before=docker.service
After=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/ledgerly-metadata-guard {{metadata_address}} {{metadata_range}}

[Install]
WantedBy=multi-user.target docker.service
UNIT
systemctl daemon-reload
systemctl enable --now ledgerly-metadata-guard.service

{{ssh_port}}
systemctl enable --now docker
usermod -aG docker {{ssh_user}}
install -d -m 0755 /var/lib/ledgerly
touch /var/lib/ledgerly/bootstrapped
