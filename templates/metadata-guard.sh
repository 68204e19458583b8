#!/bin/sh
# Ledgerly's instance-metadata guard: of the containers on this host, only those with an address
# in ALLOWED (a block of the stack network kept for the API) reach ADDRESS (the instance metadata
# service, which hands out the instance role's credentials: every receipt, every stack secret).
# Everything else forwarded there is refused at once, by a rule in Docker's DOCKER-USER chain,
# which Docker evaluates before its own and never rewrites.
#
#   ledgerly-metadata-guard ADDRESS ALLOWED            set the rules (again: changes nothing)
#   ledgerly-metadata-guard --remove ADDRESS ALLOWED   take them out
#
# user-data installs it with a systemd unit that runs it at every boot before Docker starts;
# `ledgerctl deploy` checks from a container that the metadata is out of reach before it changes
# anything.
set -eu

chain=LEDGERLY-METADATA
remove=
if [ "${1:-}" = --remove ]; then
    remove=1
    shift
fi
if [ $# -ne 2 ]; then
    echo "usage: $0 [--remove] ADDRESS ALLOWED_CIDR" >&2
    exit 2
fi
address=$1
allowed=$2

if [ -n "$remove" ]; then
    while iptables -w -D DOCKER-USER -d "$address/32" -j "$chain" 2>/dev/null; do :; done
    while iptables -w -D "$chain" -s "$allowed" -j RETURN 2>/dev/null; do :; done
    exit 0
fi

# Docker makes DOCKER-USER when it starts; this may run first.
iptables -w -N DOCKER-USER 2>/dev/null || true
iptables -w -N "$chain" 2>/dev/null || true
iptables -w -C "$chain" -s "$allowed" -j RETURN 2>/dev/null ||
    iptables -w -I "$chain" 1 -s "$allowed" -j RETURN
iptables -w -C "$chain" -j REJECT 2>/dev/null ||
    iptables -w -A "$chain" -j REJECT
iptables -w -C DOCKER-USER -d "$address/32" -j "$chain" 2>/dev/null ||
    iptables -w -I DOCKER-USER 1 -d "$address/32" -j "$chain"
