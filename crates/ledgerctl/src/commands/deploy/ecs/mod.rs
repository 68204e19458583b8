//! Deploying to the ECS topology (`topology: ecs`), through AWS APIs alone (no SSH): the API's
//! and the migration's task definitions ([`api_task_definition`], [`migration_task_definition`]),
//! each registered only when it differs from its family's newest revision
//! ([`register_if_changed`]); the migration run as a one-off Fargate task ([`run_migration`]);
//! the service pointed at the API's revision and waited for until its deployment completes or
//! its circuit breaker rolls it back ([`roll_out`]).
//!
//! In that order, as on the instance: the migration runs when the service is about to change
//! ([`service_runs`] says it is not), and a failed one stops the deploy with the service as it
//! was. A deploy that changes nothing registers nothing and rolls out nothing.
//!
//! The emulator runs no tasks (its RunTask answers 500): the waits are tested over AWS's answers
//! replayed (`tests`).

mod migration;
mod register;
mod release;
mod rollout;
mod stopped;
mod task_definitions;
#[cfg(test)]
mod tests;

pub(crate) use migration::run_migration;
pub(crate) use register::register_if_changed;
pub(crate) use release::{release_to, run_api_command};
pub(crate) use rollout::{RolloutOutcome, restart, roll_out, service_runs};
pub(crate) use task_definitions::{Inputs, api_task_definition, migration_task_definition};
