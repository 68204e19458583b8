//! The stack file's `topology` and its `ecs:` section: the API as an ECS Fargate service behind
//! an Application Load Balancer, autoscaled (docs/scale-out.md).

use serde::Deserialize;

/// Where the API runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Topology {
    /// One EC2 instance runs the whole stack behind Traefik (the default).
    #[default]
    Instance,
    /// The API as an ECS service on Fargate behind an ALB; the instance runs monitoring only.
    Ecs,
}

impl Topology {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Topology::Instance => "instance",
            Topology::Ecs => "ecs",
        }
    }
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The API's tasks, their load balancer and their scaling.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct EcsConfig {
    /// Each task's CPU in units of 1/1024 vCPU: 256, 512, 1024, 2048, 4096, 8192 or 16384.
    pub(crate) cpu: u32,
    /// Each task's memory; Fargate allows a range per CPU size.
    pub(crate) memory_mb: u32,
    pub(crate) tasks: TasksConfig,
    pub(crate) scaling: ScalingConfig,
    /// The subnets of the load balancer and the tasks, in two availability zones at least;
    /// default: the default VPC's.
    pub(crate) subnets: Vec<String>,
    /// An existing ACM certificate for `domain` (in the stack's region); default: one is
    /// requested, validated through DNS.
    pub(crate) certificate_arn: Option<String>,
    /// How long provision waits for a requested certificate's DNS validation.
    pub(crate) certificate_timeout_minutes: u32,
    /// How long CloudWatch Logs keeps the tasks' logs: one of the periods it offers.
    pub(crate) log_retention_days: u32,
    /// How many days the load balancer's access logs are kept in their bucket.
    pub(crate) access_log_days: u32,
    pub(crate) dns: DnsConfig,
}

impl Default for EcsConfig {
    fn default() -> Self {
        Self {
            cpu: 512,
            memory_mb: 1024,
            tasks: TasksConfig::default(),
            scaling: ScalingConfig::default(),
            subnets: Vec::new(),
            certificate_arn: None,
            certificate_timeout_minutes: 30,
            log_retention_days: 30,
            access_log_days: 30,
            dns: DnsConfig::default(),
        }
    }
}

/// How many tasks run: `desired` at first, autoscaled between `min` and `max`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TasksConfig {
    pub(crate) desired: u32,
    pub(crate) min: u32,
    pub(crate) max: u32,
}

impl Default for TasksConfig {
    fn default() -> Self {
        Self {
            desired: 2,
            min: 2,
            max: 6,
        }
    }
}

/// What autoscaling keeps the tasks at: average CPU, requests per task through the load
/// balancer (per minute), or both (a target-tracking policy each; the larger wins). Without the
/// section, CPU at 60 %; with it, what it names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScalingConfig {
    #[serde(default)]
    pub(crate) cpu_percent: Option<u32>,
    #[serde(default)]
    pub(crate) requests_per_target: Option<u32>,
}

impl Default for ScalingConfig {
    fn default() -> Self {
        Self {
            cpu_percent: Some(60),
            requests_per_target: None,
        }
    }
}

/// Route 53: with a hosted zone for `domain`, provision writes into it the requested certificate's
/// validation records and the alias pointing `domain` at the load balancer; without one, plan
/// prints them for you to create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DnsConfig {
    pub(crate) hosted_zone_id: Option<String>,
}

/// Whether `zone` reads as a Route 53 hosted zone id: up to 32 uppercase letters and digits.
pub(crate) fn is_zone_id(zone: &str) -> bool {
    (1..=32).contains(&zone.len())
        && zone
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The retention periods CloudWatch Logs offers, in days.
const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The memory sizes Fargate allows with `cpu` units, as (smallest, largest, step) in MiB.
fn memory_range(cpu: u32) -> Option<(u32, u32, u32)> {
    Some(match cpu {
        256 => (512, 2048, 512),
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122_880, 8192),
        _ => return None,
    })
}

fn is_subnet_id(text: &str) -> bool {
    text.strip_prefix("subnet-").is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// `arn:<partition>:acm:<region>:<account>:certificate/<id>`: the certificate's region.
fn certificate_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "acm", region, account, resource]
            if partition.starts_with("aws")
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && resource
                    .strip_prefix("certificate/")
                    .is_some_and(|id| !id.is_empty()) =>
        {
            Some(region)
        }
        _ => None,
    }
}

impl EcsConfig {
    /// Every problem with the section (in a stack in `region`), each naming its field.
    pub(crate) fn problems(&self, region: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        match memory_range(self.cpu) {
            None => check(
                false,
                format!(
                    "ecs.cpu: {} is not a Fargate task size; give 256, 512, 1024, 2048, 4096, 8192 or 16384 (1024 is one vCPU)",
                    self.cpu
                ),
            ),
            Some((least, most, step)) => check(
                (least..=most).contains(&self.memory_mb) && self.memory_mb.is_multiple_of(step),
                format!(
                    "ecs.memory_mb: {} does not go with ecs.cpu {}; Fargate allows {least} to {most} in steps of {step}",
                    self.memory_mb, self.cpu
                ),
            ),
        }
        let tasks = &self.tasks;
        check(
            tasks.min >= 1 && tasks.min <= tasks.desired && tasks.desired <= tasks.max,
            format!(
                "ecs.tasks: min {}, desired {}, max {} must satisfy 1 <= min <= desired <= max",
                tasks.min, tasks.desired, tasks.max
            ),
        );
        check(
            tasks.max <= 1000,
            format!(
                "ecs.tasks.max: {} is more tasks than a service runs (1000 at most)",
                tasks.max
            ),
        );
        let scaling = &self.scaling;
        check(
            scaling.cpu_percent.is_some() || scaling.requests_per_target.is_some(),
            "ecs.scaling: give cpu_percent, requests_per_target or both; with neither, nothing scales (set tasks.min = tasks.max for a fixed count)".into(),
        );
        if let Some(cpu) = scaling.cpu_percent {
            check(
                (10..=90).contains(&cpu),
                format!("ecs.scaling.cpu_percent: {cpu} must be between 10 and 90"),
            );
        }
        if let Some(requests) = scaling.requests_per_target {
            check(
                (1..=1_000_000).contains(&requests),
                format!(
                    "ecs.scaling.requests_per_target: {requests} must be between 1 and 1000000 (requests per task per minute)"
                ),
            );
        }
        if !self.subnets.is_empty() {
            check(
                self.subnets.len() >= 2,
                "ecs.subnets: give two subnets or more, in different availability zones (a load balancer needs two), or leave it out for the default VPC's".into(),
            );
        }
        for subnet in &self.subnets {
            check(
                is_subnet_id(subnet),
                format!("ecs.subnets: `{subnet}` is not a subnet id; e.g. subnet-0abc1234"),
            );
        }
        if let Some(arn) = &self.certificate_arn {
            match certificate_region(arn) {
                None => check(
                    false,
                    format!(
                        "ecs.certificate_arn: `{arn}` is not an ACM certificate ARN; e.g. arn:aws:acm:{region}:123456789012:certificate/…, or leave it out to request one"
                    ),
                ),
                Some(other) => check(
                    other == region,
                    format!(
                        "ecs.certificate_arn: the certificate is in {other}; a load balancer in {region} needs one from {region}"
                    ),
                ),
            }
        }
        check(
            (1..=2880).contains(&self.certificate_timeout_minutes),
            format!(
                "ecs.certificate_timeout_minutes: {} must be between 1 and 2880 (two days)",
                self.certificate_timeout_minutes
            ),
        );
        check(
            RETENTION_DAYS.contains(&self.log_retention_days),
            format!(
                "ecs.log_retention_days: {} is not a period CloudWatch Logs offers; give one of {}",
                self.log_retention_days,
                RETENTION_DAYS
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        check(
            (1..=3650).contains(&self.access_log_days),
            format!(
                "ecs.access_log_days: {} must be between 1 and 3650",
                self.access_log_days
            ),
        );
        if let Some(zone) = &self.dns.hosted_zone_id {
            check(
                is_zone_id(zone),
                format!(
                    "ecs.dns.hosted_zone_id: `{zone}` is not a Route 53 hosted zone id; e.g. Z0123456789ABCDEFGHIJ"
                ),
            );
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<String> {
        let config: EcsConfig = yaml_serde::from_str(yaml).expect("parses");
        config.problems("eu-west-1")
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(
            EcsConfig::default().problems("eu-west-1"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn memory_must_fit_the_cpu_size() {
        assert_eq!(problems("cpu: 1024\nmemory_mb: 4096"), Vec::<String>::new());
        let wrong = problems("cpu: 256\nmemory_mb: 4096");
        assert!(
            wrong[0].contains(
                "ecs.memory_mb: 4096 does not go with ecs.cpu 256; Fargate allows 512 to 2048"
            ),
            "{wrong:?}"
        );
        assert!(problems("cpu: 300")[0].starts_with("ecs.cpu: 300 is not a Fargate task size"));
        assert!(
            !problems("cpu: 8192\nmemory_mb: 18432").is_empty(),
            "8192 steps by 4096"
        );
    }

    #[test]
    fn task_counts_must_be_ordered() {
        let wrong = problems("tasks: {min: 3, desired: 2, max: 6}");
        assert_eq!(
            wrong,
            ["ecs.tasks: min 3, desired 2, max 6 must satisfy 1 <= min <= desired <= max"]
        );
        assert!(!problems("tasks: {min: 0, desired: 0, max: 0}").is_empty());
    }

    #[test]
    fn something_must_drive_scaling() {
        let wrong = problems("scaling: {}");
        assert!(
            wrong[0].starts_with("ecs.scaling: give cpu_percent"),
            "{wrong:?}"
        );
        let requests: EcsConfig =
            yaml_serde::from_str("scaling: {requests_per_target: 1000}").unwrap();
        assert_eq!(
            requests.scaling.cpu_percent, None,
            "only what the section names"
        );
        assert_eq!(requests.problems("eu-west-1"), Vec::<String>::new());
        assert!(problems("scaling: {cpu_percent: 95}")[0].contains("between 10 and 90"));
    }

    #[test]
    fn subnets_are_two_or_more_ids() {
        assert!(problems("subnets: [subnet-0abc1234]")[0].contains("two subnets or more"));
        assert!(
            problems("subnets: [subnet-0abc1234, web]")[0].contains("`web` is not a subnet id")
        );
        assert!(problems("subnets: [subnet-0abc1234, subnet-0def5678]").is_empty());
    }

    #[test]
    fn a_certificate_must_be_an_acm_arn_in_the_stack_region() {
        let here = "arn:aws:acm:eu-west-1:123456789012:certificate/0d4e7a4b-1c2d";
        assert!(problems(&format!("certificate_arn: {here}")).is_empty());
        let there = here.replace("eu-west-1", "us-east-1");
        assert_eq!(
            problems(&format!("certificate_arn: {there}")),
            [
                "ecs.certificate_arn: the certificate is in us-east-1; a load balancer in eu-west-1 needs one from eu-west-1"
            ]
        );
        assert!(problems("certificate_arn: mycert")[0].contains("is not an ACM certificate ARN"));
        // The zone still holds the domain's alias to the load balancer.
        let both = problems(&format!(
            "certificate_arn: {here}\ndns: {{hosted_zone_id: Z0123456789ABC}}"
        ));
        assert_eq!(both, Vec::<String>::new());
    }

    #[test]
    fn log_retention_is_a_period_cloudwatch_offers() {
        assert!(problems("log_retention_days: 45")[0].contains("give one of 1, 3, 5"));
        assert!(problems("log_retention_days: 365").is_empty());
    }

    #[test]
    fn access_logs_are_kept_one_day_to_ten_years() {
        assert!(problems("access_log_days: 3650").is_empty());
        assert_eq!(
            problems("access_log_days: 0"),
            ["ecs.access_log_days: 0 must be between 1 and 3650"]
        );
    }

    #[test]
    fn a_hosted_zone_id_is_checked() {
        assert!(problems("dns: {hosted_zone_id: Z0123456789ABC}").is_empty());
        assert!(
            problems("dns: {hosted_zone_id: zone-1}")[0].contains("not a Route 53 hosted zone id")
        );
    }
}
