#!/bin/sh
# The load balancer's access logs made into GoAccess's HTML report: every gzipped log file under
# $LOGS (the `alb-logs` service mirrors them there from S3, as Elastic Load Balancing writes them)
# read in GoAccess's AWSALB format, and the report written to $REPORT whole or not at all. With
# no log yet, the report is an empty one. templates/monitoring.yaml runs it every minute.
set -eu
logs="${LOGS:?the folder of access logs}"
report="${REPORT:?the report file, ending .html}"
partial="${report%.html}.partial.html"
find "$logs" -type f -name '*.log.gz' -exec zcat {} + |
    goaccess - --log-format=AWSALB --no-global-config --no-progress -o "$partial"
mv "$partial" "$report"
