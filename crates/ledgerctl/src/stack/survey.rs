//! The survey of the stack — each resource's desired state beside what AWS has, read at once —
//! and the changes it implies, carried out in dependency order with independent resources at
//! the same time. `plan`, `provision` and `status` work from it. Nothing here names a kind: the
//! loops go over [`KINDS`](super::resource::KINDS).

use futures_util::FutureExt as _;

use super::resource::{self, Known, Order, Surveyed};
use super::{ResourceChange, StackConfig};
use crate::aws::{self, Aws};

/// Each resource's desired state and what AWS has.
#[derive(Debug)]
pub(crate) struct Survey {
    known: Known,
    /// Each kind's resources, in the order of the kinds.
    resources: Vec<Vec<Box<dyn Surveyed>>>,
}

impl Survey {
    /// Reads the whole stack, independent reads at once. Stops before any change when something
    /// the operator must supply (the OCR key, a named key pair) is missing, or when the stack
    /// file's topology is not the one the stack runs in.
    pub(crate) async fn take(
        aws: &Aws,
        config: &StackConfig,
        public_key: Option<String>,
    ) -> anyhow::Result<Survey> {
        if let Some(parameter) = &config.ocr.api_key_parameter {
            aws::ssm::require(aws, "ocr.api_key_parameter", parameter).await?;
        }
        aws::ecs::refuse_switch(aws, config).await?;
        let mut known = Known::read(aws, public_key).await?;
        let resources = resource::in_order(Order::Read, &mut known, |kind, known| {
            kind.survey(aws, config, known)
        })
        .await?;
        Ok(Survey { known, resources })
    }

    /// What the survey learned of the resources: their ids and outputs (the load balancer's DNS
    /// name, which plan and status show).
    pub(crate) fn known(&self) -> &Known {
        &self.known
    }

    fn all(&self) -> impl Iterator<Item = &dyn Surveyed> {
        self.resources.iter().flatten().map(AsRef::as_ref)
    }

    /// The run state of what has one, where it is not the healthy one: the instance when it is
    /// not running, the database when it is not available. (kind, name, state)
    pub(crate) fn unhealthy_states(&self) -> Vec<(&'static str, String, String)> {
        self.all().filter_map(Surveyed::unhealthy).collect()
    }

    /// What each resource needs, in dependency order.
    pub(crate) fn changes(&self) -> Vec<ResourceChange> {
        self.all().map(|r| r.change(&self.known)).collect()
    }

    /// Carries out the changes: independent kinds at once, each kind's resources in order;
    /// unchanged ones are not touched. The changes made, in the order `changes` lists them.
    pub(crate) async fn apply(
        &self,
        aws: &Aws,
        report: &(dyn Fn(&ResourceChange) + Sync),
    ) -> anyhow::Result<Vec<ResourceChange>> {
        let mut known = self.known.clone();
        let kinds = resource::KINDS.iter().zip(&self.resources);
        let done = resource::in_order(Order::Make, &mut known, |kind, mut known| {
            let resources = kinds
                .clone()
                .find(|(k, _)| k.name() == kind.name())
                .map(|(_, resources)| resources.as_slice())
                .unwrap_or_default();
            async move {
                let mut done = Vec::new();
                for resource in resources {
                    if let Some(change) = resource.converge(aws, &mut known).await? {
                        report(&change);
                        done.push(change);
                    }
                }
                Ok((done, known))
            }
            .boxed()
        })
        .await?;
        Ok(done.into_iter().flatten().collect())
    }
}
