//! The ECS sections of `ledgerctl status`'s table: the service, its tasks, targets and scaling.

use std::io::Write;

use anyhow::Result;

use super::Ecs;

/// A time as the table shows it.
fn time(at: Option<i64>) -> String {
    at.and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
        )
}

/// The service, tasks, targets and scaling sections of the table, in UTC.
pub(in crate::commands::status) fn print_table(out: &mut impl Write, ecs: &Ecs) -> Result<()> {
    let service = &ecs.service;
    writeln!(out, "\nECS service {} — {}", service.name, service.status)?;
    writeln!(
        out,
        "  tasks: {} desired, {} running, {} pending",
        service.desired, service.running, service.pending
    )?;
    for d in &service.deployments {
        writeln!(
            out,
            "  {:<8} {:<20} {:<11} running {}/{}, pending {}, failed {}  since {}  {}",
            d.status,
            d.task_definition,
            d.rollout_state.as_deref().unwrap_or("-"),
            d.running,
            d.desired,
            d.pending,
            d.failed,
            time(d.created_at),
            d.id
        )?;
        if let Some(reason) = &d.rollout_state_reason {
            writeln!(out, "           {reason}")?;
        }
    }
    for event in &service.events {
        writeln!(out, "  {}  {}", time(event.at), event.message)?;
    }
    writeln!(out, "\nTasks")?;
    if ecs.tasks.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for t in &ecs.tasks {
        writeln!(
            out,
            "  {:<32} {:<20} {:<12} {:<9} {:<11} started {}",
            t.id,
            t.task_definition,
            t.last_status,
            t.health,
            t.availability_zone.as_deref().unwrap_or("-"),
            time(t.started_at)
        )?;
    }
    for t in &ecs.stopped_tasks {
        let (id, at) = (&t.id, time(t.stopped_at));
        writeln!(
            out,
            "  stopped {id} ({}) {at}: {}",
            t.task_definition, t.reason
        )?;
    }
    let dns_name = ecs.load_balancer_dns_name.as_deref();
    writeln!(out, "\nLoad balancer: {}", dns_name.unwrap_or("(none)"))?;
    writeln!(out, "\nTargets in {}", ecs.target_group)?;
    if ecs.targets.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for t in &ecs.targets {
        let why = [t.reason.as_deref(), t.description.as_deref()];
        let why: Vec<&str> = why.into_iter().flatten().collect();
        writeln!(out, "  {:<21} {:<10} {}", t.id, t.state, why.join(": "))?;
    }
    match &ecs.scaling {
        None => writeln!(out, "\nScaling: no scalable target")?,
        Some(s) => {
            let (min, max, desired) = (s.min, s.max, s.desired);
            writeln!(out, "\nScaling: {min} to {max} tasks, {desired} desired")?;
            for a in &s.activities {
                let at = time(Some(a.at));
                writeln!(out, "  {at}  {:<11} {}", a.status, a.description)?;
            }
        }
    }
    Ok(())
}
