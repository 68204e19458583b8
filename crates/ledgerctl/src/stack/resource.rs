//! One shape for every AWS resource kind. A kind is a type implementing [`Resource`]: the stack's
//! resources of that kind as the stack file wants them (`desired`), what AWS has of each
//! (`observe`), what differs (`diff`), how to make it so (`apply`) and how to delete the stack's
//! own (`delete`). Registered once in [`KINDS`], in dependency order, a kind is surveyed, planned,
//! provisioned, shown by status and destroyed by the loops in `survey.rs` — none of which name
//! it. Resources reach each other's outputs (the VPC, group ids, the instance's id) through
//! [`Known`], which the kinds before them fill in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt as _};

use super::{Change, ResourceChange, StackConfig};
use crate::aws::{self, Aws};

/// The stack's resource kinds in dependency order: each after the kinds its `AFTER` names, so
/// the plan lists them in the order provision makes them. A new kind is one line here.
pub(crate) static KINDS: &[&dyn Kind] = &[
    &of::<aws::key_pair::KeyPair>(),
    &of::<aws::ecr::Repository>(),
    &of::<aws::s3::Bucket>(),
    &of::<aws::oidc::Provider>(),
    &of::<aws::iam::Role>(),
    &of::<aws::sg::Group>(),
    &of::<aws::ssm::Secret>(),
    &of::<aws::rds::SubnetGroup>(),
    &of::<aws::rds::Database>(),
    &of::<aws::instance::Instance>(),
    &of::<aws::eip::Address>(),
    &of::<aws::route53::AddressRecord>(),
    &of::<aws::lambda::Function>(),
    &of::<aws::lambda::permission::Permission>(),
    &of::<aws::lambda::notification::Notification>(),
    &of::<aws::logs::LogGroup>(),
    &of::<aws::ecs::cluster::Cluster>(),
    &of::<aws::acm::Certificate>(),
    &of::<aws::elb::target_group::TargetGroup>(),
    &of::<aws::s3::access_logs::LogBucket>(),
    &of::<aws::elb::LoadBalancer>(),
    &of::<aws::route53::AliasRecord>(),
    &of::<aws::elb::listener::Listener>(),
    &of::<aws::elb::listener::rules::ListenerRules>(),
    &of::<aws::cloud_map::Namespace>(),
    &of::<aws::cloud_map::DiscoveryService>(),
    &of::<aws::ecs::service::Service>(),
    &of::<aws::scaling::ScalableTarget>(),
    &of::<aws::scaling::ScalingPolicies>(),
    &of::<aws::ssm::DeployRecord>(),
];

/// What a run knows that resources need of each other: the account's facts, read first, and the
/// outputs of the resources surveyed or made so far. Kinds only add to it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Known {
    pub(crate) account: String,
    pub(crate) region: String,
    /// The public key to import as the instance's key pair, when the stack file gives one.
    pub(crate) public_key: Option<String>,
    /// The default VPC, and its subnets (the database's subnet group).
    pub(crate) vpc: String,
    pub(crate) subnets: BTreeSet<String>,
    /// The stack's security groups' ids, by name.
    pub(crate) groups: BTreeMap<String, String>,
    /// The instance's id, once it exists.
    pub(crate) instance: Option<String>,
    /// The Elastic IP's public address, once it is allocated.
    pub(crate) address: Option<String>,
    /// The OCR function is neither there nor can be made yet (no image): what follows it waits.
    pub(crate) function_waits: bool,
    /// Destroy: the database's final snapshot (`None`: no snapshot).
    pub(crate) final_snapshot: Option<String>,
    /// What the ECS topology's kinds need of each other.
    pub(crate) ecs: EcsKnown,
}

/// What the ECS topology's kinds learn of each other, by the kind that fills it in.
#[derive(Debug, Clone, Default)]
pub(crate) struct EcsKnown {
    /// `acm certificate`: the certificate's ARN once it is issued (`None` while it waits for
    /// its DNS validation).
    pub(crate) certificate: Option<String>,
    /// `load balancer`: its ARN.
    pub(crate) load_balancer: Option<String>,
    /// `load balancer`: its DNS name and canonical hosted zone id, which an alias record to it
    /// names.
    pub(crate) load_balancer_dns: Option<String>,
    pub(crate) load_balancer_zone: Option<String>,
    /// `target group`: its ARN.
    pub(crate) target_group: Option<String>,
    /// `listener`: the HTTPS listener's ARN (its rules hang on it).
    pub(crate) https_listener: Option<String>,
    /// `cloud map namespace`: its id.
    pub(crate) namespace: Option<String>,
    /// `cloud map service`: its ARN (the ECS service registers its tasks in it).
    pub(crate) discovery: Option<String>,
    /// `ecs service`: it is neither there nor can be made yet (no task definition until the
    /// first deploy), so what follows it waits.
    pub(crate) service_waits: bool,
}

impl EcsKnown {
    fn merge(&mut self, learned: EcsKnown) {
        let keep = |mine: &mut Option<String>, theirs: Option<String>| {
            if theirs.is_some() {
                *mine = theirs;
            }
        };
        keep(&mut self.certificate, learned.certificate);
        keep(&mut self.load_balancer, learned.load_balancer);
        keep(&mut self.load_balancer_dns, learned.load_balancer_dns);
        keep(&mut self.load_balancer_zone, learned.load_balancer_zone);
        keep(&mut self.target_group, learned.target_group);
        keep(&mut self.https_listener, learned.https_listener);
        keep(&mut self.namespace, learned.namespace);
        keep(&mut self.discovery, learned.discovery);
        self.service_waits |= learned.service_waits;
    }
}

impl Known {
    /// The account's facts: its id, the region, the default VPC and its subnets.
    pub(crate) async fn read(aws: &Aws, public_key: Option<String>) -> anyhow::Result<Known> {
        let (account, vpc) = tokio::try_join!(aws.account_id(), aws::sg::default_vpc(aws))?;
        let subnets = aws::rds::default_subnets(aws, &vpc).await?;
        Ok(Known {
            account,
            region: aws.region.clone(),
            public_key,
            vpc,
            subnets,
            ..Known::default()
        })
    }

    /// The stack's security groups' names, by id.
    pub(crate) fn group_names(&self) -> BTreeMap<String, String> {
        self.groups
            .iter()
            .map(|(name, id)| (id.clone(), name.clone()))
            .collect()
    }

    /// Takes in what another kind learned (from a copy of this one).
    fn merge(&mut self, learned: Known) {
        self.groups.extend(learned.groups);
        self.instance = learned.instance.or(self.instance.take());
        self.address = learned.address.or(self.address.take());
        self.function_waits |= learned.function_waits;
        self.ecs.merge(learned.ecs);
    }

    /// The subnets of the load balancer and the API's tasks: the stack file's, or the default
    /// VPC's.
    pub(crate) fn ecs_subnets(&self, ecs: &crate::stack::config::EcsConfig) -> Vec<String> {
        if ecs.subnets.is_empty() {
            self.subnets.iter().cloned().collect()
        } else {
            ecs.subnets.clone()
        }
    }
}

/// One resource of the stack: what the stack file wants of it, and how it is read, compared,
/// made and deleted. `Self` is the desired state.
pub(crate) trait Resource: fmt::Debug + Send + Sync + Sized + 'static {
    /// What AWS has of it.
    type Observed: fmt::Debug + Send + Sync + 'static;
    /// As plan prints it: `ecr repository`, `iam role`, …
    const KIND: &'static str;
    /// The kinds made before this one (and deleted after it).
    const AFTER: &'static [&'static str] = &[];
    /// Of those, the kinds read before this one: the ones whose reading teaches [`Known`] what
    /// this one's reading needs (the security groups' ids, to name a rule's source). The rest are
    /// read side by side with it; every diff is taken once all are read.
    const READS_AFTER: &'static [&'static str] = &[];

    /// The stack's resources of this kind, as the stack file wants them. May read what it
    /// cannot know otherwise (the newest image to create the function from).
    fn desired(
        aws: &Aws,
        config: &StackConfig,
        known: &Known,
    ) -> impl Future<Output = anyhow::Result<Vec<Self>>> + Send;

    fn name(&self) -> String;

    /// What AWS has of it; `None` when it does not exist.
    fn observe(
        &self,
        aws: &Aws,
        known: &Known,
    ) -> impl Future<Output = anyhow::Result<Option<Self::Observed>>> + Send;

    /// Records what later kinds need of it as it is (its id, say).
    fn learn(&self, _observed: Option<&Self::Observed>, _known: &mut Known) {}

    /// What it needs: to be created, the fields that drifted, nothing, or to wait.
    fn diff(&self, observed: Option<&Self::Observed>, known: &Known) -> Change;

    /// Makes it what `self` says, changing only what differs from `observed`; records in
    /// `known` what later kinds need of what it made.
    fn apply(
        &self,
        aws: &Aws,
        observed: Option<&Self::Observed>,
        known: &mut Known,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Its run state, when it has one and it is not the healthy one (`stopped`, `backing-up`).
    fn unhealthy(_observed: &Self::Observed) -> Option<String> {
        None
    }

    /// Deletes the stack's resources of this kind — only those carrying its tag, and those named
    /// by the stack file's earlier settings too — and says which went. Already gone is fine.
    fn delete(
        aws: &Aws,
        config: &StackConfig,
        known: &Known,
    ) -> impl Future<Output = anyhow::Result<Vec<String>>> + Send;
}

/// One surveyed resource: what the stack file wants, with what AWS has.
pub(crate) trait Surveyed: fmt::Debug + Send + Sync {
    fn change(&self, known: &Known) -> ResourceChange;
    /// (kind, name, state) when its run state is not the healthy one.
    fn unhealthy(&self) -> Option<(&'static str, String, String)>;
    /// Applies its change, if it has one as `known` now stands; the change made.
    fn converge<'a>(
        &'a self,
        aws: &'a Aws,
        known: &'a mut Known,
    ) -> BoxFuture<'a, anyhow::Result<Option<ResourceChange>>>;
}

#[derive(Debug)]
struct Pair<R: Resource> {
    desired: R,
    observed: Option<R::Observed>,
}

impl<R: Resource> Surveyed for Pair<R> {
    fn change(&self, known: &Known) -> ResourceChange {
        ResourceChange {
            kind: R::KIND,
            name: self.desired.name(),
            change: self.desired.diff(self.observed.as_ref(), known),
        }
    }

    fn unhealthy(&self) -> Option<(&'static str, String, String)> {
        let state = R::unhealthy(self.observed.as_ref()?)?;
        Some((R::KIND, self.desired.name(), state))
    }

    fn converge<'a>(
        &'a self,
        aws: &'a Aws,
        known: &'a mut Known,
    ) -> BoxFuture<'a, anyhow::Result<Option<ResourceChange>>> {
        async move {
            let change = self.change(known);
            if !change.is_change() {
                return Ok(None);
            }
            self.desired
                .apply(aws, self.observed.as_ref(), known)
                .await
                .map_err(|err| err.context(format!("{} {}", change.kind, change.name)))?;
            Ok(Some(change))
        }
        .boxed()
    }
}

/// A kind's resources with what AWS has, and what they taught [`Known`].
pub(crate) type KindSurvey = (Vec<Box<dyn Surveyed>>, Known);

/// A resource kind as the loops see it, whatever its types.
pub(crate) trait Kind: Sync {
    fn name(&self) -> &'static str;
    fn after(&self) -> &'static [&'static str];
    fn reads_after(&self) -> &'static [&'static str];
    /// The stack's resources of this kind with what AWS has, and what they taught `known`.
    fn survey<'a>(
        &'a self,
        aws: &'a Aws,
        config: &'a StackConfig,
        known: Known,
    ) -> BoxFuture<'a, anyhow::Result<KindSurvey>>;
    /// Deletes the stack's own of this kind; the names of those deleted.
    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        config: &'a StackConfig,
        known: &'a Known,
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>>;
}

struct KindOf<R>(PhantomData<fn() -> R>);

const fn of<R: Resource>() -> KindOf<R> {
    KindOf(PhantomData)
}

impl<R: Resource> Kind for KindOf<R> {
    fn name(&self) -> &'static str {
        R::KIND
    }

    fn after(&self) -> &'static [&'static str] {
        R::AFTER
    }

    fn reads_after(&self) -> &'static [&'static str] {
        R::READS_AFTER
    }

    fn survey<'a>(
        &'a self,
        aws: &'a Aws,
        config: &'a StackConfig,
        mut known: Known,
    ) -> BoxFuture<'a, anyhow::Result<KindSurvey>> {
        async move {
            let mut surveyed: Vec<Box<dyn Surveyed>> = Vec::new();
            // In order: a resource may refer to the one before it (the database's group to the
            // web group).
            for desired in R::desired(aws, config, &known).await? {
                let observed = desired.observe(aws, &known).await?;
                desired.learn(observed.as_ref(), &mut known);
                surveyed.push(Box::new(Pair { desired, observed }));
            }
            Ok((surveyed, known))
        }
        .boxed()
    }

    fn delete<'a>(
        &'a self,
        aws: &'a Aws,
        config: &'a StackConfig,
        known: &'a Known,
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        R::delete(aws, config, known).boxed()
    }
}

/// Which way [`in_order`] goes through the kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Reading: each kind after its `READS_AFTER`.
    Read,
    /// Making: each kind after its `AFTER`.
    Make,
    /// Deleting: each kind once the kinds that come `AFTER` it are gone.
    Unmake,
}

/// Runs `step` for every kind once the kinds it waits for in `order` are done, independent kinds
/// at once. Each step gets a copy of what is known by then and gives back what it learned. The
/// results, in the order of [`KINDS`].
pub(crate) async fn in_order<'a, T>(
    order: Order,
    known: &mut Known,
    mut step: impl FnMut(&'static dyn Kind, Known) -> BoxFuture<'a, anyhow::Result<(T, Known)>>,
) -> anyhow::Result<Vec<T>> {
    let index = |name: &str| KINDS.iter().position(|k| k.name() == name);
    let reverse = order == Order::Unmake;
    // waits_for[i]: the kinds that must be done before kind i.
    let mut waits_for: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); KINDS.len()];
    for (i, kind) in KINDS.iter().enumerate() {
        let needs = match order {
            Order::Read => kind.reads_after(),
            Order::Make | Order::Unmake => kind.after(),
        };
        for name in needs {
            let j = index(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "the kind {} comes after {name}, which is not registered",
                    kind.name()
                )
            })?;
            if reverse {
                waits_for[j].insert(i);
            } else {
                waits_for[i].insert(j);
            }
        }
    }
    let mut results: Vec<Option<T>> = KINDS.iter().map(|_| None).collect();
    let mut started = vec![false; KINDS.len()];
    let mut running = FuturesUnordered::new();
    loop {
        for i in 0..KINDS.len() {
            if !started[i] && waits_for[i].iter().all(|&j| results[j].is_some()) {
                started[i] = true;
                let future = step(KINDS[i], known.clone());
                running.push(async move { (i, future.await) });
            }
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        let (value, learned) = result?;
        known.merge(learned);
        results[i] = Some(value);
    }
    results
        .into_iter()
        .zip(KINDS)
        .map(|(result, kind)| {
            result.ok_or_else(|| {
                anyhow::anyhow!(
                    "the kind {} waits for itself (a cycle in AFTER)",
                    kind.name()
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_comes_after_registered_kinds_only_and_earlier_ones() {
        for (i, kind) in KINDS.iter().enumerate() {
            for name in kind.after() {
                let j = KINDS.iter().position(|k| k.name() == *name);
                assert!(
                    j.is_some_and(|j| j < i),
                    "{} comes after {name}, which is not registered before it",
                    kind.name()
                );
            }
        }
        for kind in KINDS {
            for name in kind.reads_after() {
                assert!(
                    kind.after().contains(name),
                    "{} is read after {name} but not made after it",
                    kind.name()
                );
            }
        }
        let names: BTreeSet<&str> = KINDS.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), KINDS.len(), "each kind registered once");
    }

    #[tokio::test]
    async fn kinds_run_after_what_they_need_and_before_it_in_reverse() {
        for order in [Order::Read, Order::Make, Order::Unmake] {
            let done = std::sync::Mutex::new(Vec::new());
            let mut known = Known::default();
            let results = in_order(order, &mut known, |kind, known| {
                let done = &done;
                async move {
                    // Yield, so that independent kinds interleave.
                    tokio::task::yield_now().await;
                    done.lock()
                        .map_err(|e| anyhow::anyhow!("{e}"))?
                        .push(kind.name());
                    Ok((kind.name(), known))
                }
                .boxed()
            })
            .await
            .unwrap();
            assert_eq!(results, KINDS.iter().map(|k| k.name()).collect::<Vec<_>>());
            let done = done.into_inner().unwrap();
            for kind in KINDS {
                let at = done.iter().position(|n| *n == kind.name()).unwrap();
                let needs = match order {
                    Order::Read => kind.reads_after(),
                    Order::Make | Order::Unmake => kind.after(),
                };
                for name in needs {
                    let other = done.iter().position(|n| n == name).unwrap();
                    assert_eq!(
                        other < at,
                        order != Order::Unmake,
                        "{order:?}: {} and {name}",
                        kind.name()
                    );
                }
            }
        }
    }
}
