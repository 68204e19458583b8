//! The load balancer's two listeners: port 80 redirects every request to HTTPS (301, host, path
//! and query kept); port 443 ends TLS with the stack's certificate under [`SSL_POLICY`] and
//! forwards to the target group. The 443 listener waits while the certificate is not issued.
//! The 443 listener's rules, which answer the API's operational paths in its place, are a kind
//! of their own (`rules`); `routing` shows what both do as their diffs compare it.

mod routing;
pub(crate) mod rules;
#[cfg(test)]
mod tests;

use routing::{REDIRECT, actions_shown};

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_elasticloadbalancingv2::types as sdk;
use aws_sdk_elasticloadbalancingv2::types::{
    ActionTypeEnum, Certificate, ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
};

use super::tags::{add_missing_tags, tag_list, tags_of};
use crate::aws::{Aws, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// TLS 1.3 and 1.2 only, forward-secret ciphers.
pub(crate) const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// What a listener does with every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Sends it to the same address over HTTPS.
    RedirectToHttps,
    /// Forwards it to the stack's target group (the API's tasks).
    Forward,
}

/// One listener, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listener {
    /// The load balancer's name.
    pub(crate) load_balancer: String,
    pub(crate) port: i32,
    /// HTTP, or HTTPS with the stack's certificate (`known.ecs.certificate`).
    pub(crate) protocol: ProtocolEnum,
    pub(crate) route: Route,
    /// The target group's name: what the plan shows before it exists.
    pub(crate) target_group: String,
    /// The domain the certificate is for.
    pub(crate) domain: String,
    pub(crate) tags: BTreeMap<String, String>,
}

/// A listener's settings as they are compared: ARNs filled in from [`Known`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) protocol: String,
    pub(crate) certificate: Option<String>,
    pub(crate) ssl_policy: Option<String>,
    /// The default action, as [`actions_shown`] gives it.
    pub(crate) action: String,
}

impl Settings {
    /// Whether a listener with `self` must be modified to be `want`. The SSL policy counts only
    /// where one is wanted: an HTTP listener has none to compare (though some endpoints
    /// describe one).
    fn differs_from(&self, want: &Settings) -> bool {
        self.protocol != want.protocol
            || self.certificate != want.certificate
            || self.action != want.action
            || (want.ssl_policy.is_some() && self.ssl_policy != want.ssl_policy)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) arn: String,
    pub(crate) settings: Settings,
    pub(crate) tags: BTreeMap<String, String>,
}

/// The two listeners of the stack's load balancer.
fn listeners(config: &StackConfig) -> Vec<Listener> {
    let listener = |port, protocol, route| Listener {
        load_balancer: super::name(config),
        port,
        protocol,
        route,
        target_group: super::target_group::name(config),
        domain: config.domain.clone(),
        tags: config.tags(),
    };
    vec![
        listener(80, ProtocolEnum::Http, Route::RedirectToHttps),
        listener(443, ProtocolEnum::Https, Route::Forward),
    ]
}

/// The listeners of the load balancer `arn`; `None` if it does not exist.
async fn listeners_of(aws: &Aws, arn: &str) -> Result<Option<Vec<sdk::Listener>>> {
    let mut listeners = Vec::new();
    let mut pages = aws
        .elb
        .describe_listeners()
        .load_balancer_arn(arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Some(page) = found(
            page,
            |e| e.is_load_balancer_not_found_exception(),
            || format!("listing the listeners of {arn}"),
        )?
        else {
            return Ok(None);
        };
        listeners.extend(page.listeners().iter().cloned());
    }
    Ok(Some(listeners))
}

fn settings_of(listener: &sdk::Listener) -> Settings {
    Settings {
        protocol: listener
            .protocol()
            .map_or("(none)", |p| p.as_str())
            .to_owned(),
        certificate: listener
            .certificates()
            .first()
            .and_then(|c| c.certificate_arn())
            .map(str::to_owned),
        ssl_policy: listener.ssl_policy().map(str::to_owned),
        action: actions_shown(listener.default_actions()),
    }
}

impl Listener {
    /// Its settings with what `known` has filled in; `None` while an HTTPS listener has no
    /// certificate to use yet.
    fn settings(&self, known: &Known) -> Option<Settings> {
        let https = self.protocol == ProtocolEnum::Https;
        let certificate = if https {
            Some(known.ecs.certificate.clone()?)
        } else {
            None
        };
        let action = match self.route {
            Route::RedirectToHttps => REDIRECT.shown(),
            Route::Forward => match &known.ecs.target_group {
                Some(arn) => format!("forward to {arn}"),
                None => format!("forward to {} (new)", self.target_group),
            },
        };
        Some(Settings {
            protocol: self.protocol.as_str().to_owned(),
            certificate,
            ssl_policy: https.then(|| SSL_POLICY.to_owned()),
            action,
        })
    }

    /// Its default action as the SDK takes it.
    fn action(&self, known: &Known) -> Result<sdk::Action> {
        Ok(match self.route {
            Route::RedirectToHttps => sdk::Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol(REDIRECT.protocol)
                        .port(REDIRECT.port)
                        .host(REDIRECT.host)
                        .path(REDIRECT.path)
                        .query(REDIRECT.query)
                        .status_code(RedirectActionStatusCodeEnum::from(REDIRECT.status))
                        .build(),
                )
                .build(),
            Route::Forward => {
                let arn = known.ecs.target_group.as_deref().with_context(|| {
                    format!(
                        "the target group {} has no ARN yet; it is made before the listeners",
                        self.target_group
                    )
                })?;
                sdk::Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(arn)
                    .build()
            }
        })
    }

    /// Records the HTTPS listener's ARN, which its rules hang on.
    fn learn_arn(&self, arn: Option<&str>, known: &mut Known) {
        if let Some(arn) = arn.filter(|_| self.protocol == ProtocolEnum::Https) {
            known.ecs.https_listener = Some(arn.to_owned());
        }
    }

    fn waiting(&self) -> String {
        format!(
            "the certificate for {} is not issued yet (see the acm certificate above)",
            self.domain
        )
    }
}

impl Resource for Listener {
    type Observed = Observed;
    const KIND: &'static str = "listener";
    const AFTER: &'static [&'static str] = &["load balancer", "target group", "acm certificate"];
    /// Its listeners are read by the load balancer's ARN.
    const READS_AFTER: &'static [&'static str] = &["load balancer"];

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        if config.ecs.is_none() {
            return Ok(vec![]);
        }
        Ok(listeners(config))
    }

    fn name(&self) -> String {
        format!("{}:{}", self.load_balancer, self.port)
    }

    fn learn(&self, observed: Option<&Observed>, known: &mut Known) {
        self.learn_arn(observed.map(|o| o.arn.as_str()), known);
    }

    /// The load balancer's listener on its port; `None` too while the load balancer is not
    /// known.
    async fn observe(&self, aws: &Aws, known: &Known) -> Result<Option<Observed>> {
        let Some(load_balancer) = &known.ecs.load_balancer else {
            return Ok(None);
        };
        let Some(listeners) = listeners_of(aws, load_balancer).await? else {
            return Ok(None);
        };
        let Some(listener) = listeners.iter().find(|l| l.port() == Some(self.port)) else {
            return Ok(None);
        };
        let name = self.name();
        let arn = listener
            .listener_arn()
            .with_context(|| format!("AWS described the listener {name} without its ARN"))?
            .to_owned();
        let tags = tags_of(aws, &arn, &format!("the listener {name}")).await?;
        Ok(Some(Observed {
            arn,
            settings: settings_of(listener),
            tags,
        }))
    }

    /// An HTTPS listener waits for the certificate.
    fn diff(&self, observed: Option<&Observed>, known: &Known) -> Change {
        let Some(want) = self.settings(known) else {
            return Change::Waiting {
                reason: self.waiting(),
            };
        };
        Diff::of(observed, |have, diff| {
            let have_settings = &have.settings;
            diff.field("protocol", &have_settings.protocol, &want.protocol);
            let shown = |arn: &Option<String>| arn.clone().unwrap_or_else(|| "(none)".into());
            diff.field(
                "certificate",
                shown(&have_settings.certificate),
                shown(&want.certificate),
            );
            if let Some(policy) = &want.ssl_policy {
                diff.field(
                    "ssl_policy",
                    have_settings.ssl_policy.as_deref().unwrap_or("(none)"),
                    policy,
                );
            }
            diff.field("default_action", &have_settings.action, &want.action);
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Creates the listener (with its tags) or modifies what differs; adds the tags it lacks.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        let name = self.name();
        let want = self.settings(known).with_context(|| self.waiting())?;
        let action = self.action(known)?;
        let certificates = want
            .certificate
            .as_ref()
            .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()]);
        let Some(have) = observed else {
            let load_balancer = known.ecs.load_balancer.as_deref().with_context(|| {
                format!(
                    "the load balancer {} has no ARN yet; it is made before its listeners",
                    self.load_balancer
                )
            })?;
            let created = aws
                .elb
                .create_listener()
                .load_balancer_arn(load_balancer)
                .protocol(self.protocol.clone())
                .port(self.port)
                .set_ssl_policy(want.ssl_policy.clone())
                .set_certificates(certificates)
                .default_actions(action)
                .set_tags(Some(tag_list(&self.tags)))
                .send()
                .await
                .map_err(sdk_error(format!("creating the listener {name}")))?;
            let arn = created.listeners().first().and_then(|l| l.listener_arn());
            self.learn_arn(arn, known);
            return Ok(());
        };
        if have.settings.differs_from(&want) {
            aws.elb
                .modify_listener()
                .listener_arn(&have.arn)
                .protocol(self.protocol.clone())
                .port(self.port)
                .set_ssl_policy(want.ssl_policy.clone())
                .set_certificates(certificates)
                .default_actions(action)
                .send()
                .await
                .map_err(sdk_error(format!("changing the listener {name}")))?;
        }
        add_missing_tags(
            aws,
            &have.arn,
            &have.tags,
            &self.tags,
            &format!("the listener {name}"),
        )
        .await
    }

    /// Deletes the listeners of the stack's load balancer, so that the target group can go.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let load_balancer = super::name(config);
        let Some(have) = super::observe_by_name(aws, &load_balancer).await? else {
            return Ok(vec![]);
        };
        crate::aws::ensure_owned(
            &have.tags,
            config,
            format_args!("the load balancer {load_balancer}"),
        )?;
        let Some(listeners) = listeners_of(aws, &have.arn).await? else {
            return Ok(vec![]);
        };
        let mut deleted = Vec::new();
        for listener in listeners {
            let Some(arn) = listener.listener_arn() else {
                continue;
            };
            let name = format!("{load_balancer}:{}", listener.port().unwrap_or_default());
            let reply = aws.elb.delete_listener().listener_arn(arn).send().await;
            if found(
                reply,
                |e| e.is_listener_not_found_exception(),
                || format!("deleting the listener {name}"),
            )?
            .is_some()
            {
                deleted.push(name);
            }
        }
        Ok(deleted)
    }
}
