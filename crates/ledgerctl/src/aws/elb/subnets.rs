//! Which subnets the load balancer may take: those of the default VPC (where the stack's
//! security groups are), one per availability zone, in two zones at least.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::aws::{Aws, code, found};

/// What is wrong with the subnets found for the load balancer, as (id, VPC, availability zone),
/// if anything; `given`: they are the stack file's `ecs.subnets` (else the default VPC's).
pub(super) fn subnet_problem(
    found: &[(String, String, String)],
    vpc: &str,
    given: bool,
) -> Option<String> {
    let elsewhere: Vec<&str> = found
        .iter()
        .filter(|(_, in_vpc, _)| in_vpc != vpc)
        .map(|(id, ..)| id.as_str())
        .collect();
    if !elsewhere.is_empty() {
        return Some(format!(
            "ecs.subnets: {} not in the default VPC {vpc}, where the stack's security groups are; give subnets of {vpc}, or leave ecs.subnets out to use all of them",
            elsewhere.join(", ")
        ));
    }
    let mut by_zone: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, _, zone) in found {
        by_zone.entry(zone.as_str()).or_default().push(id.as_str());
    }
    if let Some((zone, ids)) = by_zone.iter().find(|(_, ids)| ids.len() > 1) {
        return Some(if given {
            format!(
                "ecs.subnets: {} are all in {zone}; a load balancer takes one subnet per availability zone: keep one of them",
                ids.join(", ")
            )
        } else {
            format!(
                "ecs.subnets: the default VPC has several subnets in {zone} ({}); a load balancer takes one per availability zone: give ecs.subnets, one per zone",
                ids.join(", ")
            )
        });
    }
    if by_zone.len() >= 2 {
        return None;
    }
    let zones = by_zone.keys().copied().collect::<Vec<_>>().join(", ");
    Some(if given {
        format!(
            "ecs.subnets: all in {zones}; a load balancer needs subnets in two availability zones at least: add a subnet of another zone"
        )
    } else {
        format!(
            "ecs.subnets: the default VPC's subnets are all in {zones}; a load balancer needs subnets in two availability zones at least: add one (`aws ec2 create-default-subnet --availability-zone <zone>`) or give ecs.subnets"
        )
    })
}

/// Checks (one DescribeSubnets call) that `subnets` exist, are in `vpc` and span two
/// availability zones at least.
pub(super) async fn check_subnets(
    aws: &Aws,
    subnets: &[String],
    vpc: &str,
    given: bool,
) -> Result<()> {
    if subnets.is_empty() {
        anyhow::bail!(
            "ecs.subnets: the default VPC {vpc} has no subnets; give ecs.subnets (two or more, in different availability zones)"
        );
    }
    let reply = found(
        aws.ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnets.to_vec()))
            .send()
            .await,
        code("InvalidSubnetID.NotFound"),
        || "reading the load balancer's subnets".into(),
    )?;
    let Some(reply) = reply else {
        anyhow::bail!(
            "ecs.subnets: one of {} does not exist in this region; give subnets of the default VPC {vpc}, or leave ecs.subnets out to use all of them",
            subnets.join(", ")
        );
    };
    let found: Vec<(String, String, String)> = reply
        .subnets()
        .iter()
        .map(|s| {
            (
                s.subnet_id().unwrap_or_default().to_owned(),
                s.vpc_id().unwrap_or_default().to_owned(),
                s.availability_zone().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    match subnet_problem(&found, vpc, given) {
        Some(problem) => Err(anyhow::anyhow!(problem)),
        None => Ok(()),
    }
}
