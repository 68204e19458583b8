//! What listeners and their rules do with a request — the rules' conditions and the actions of
//! both — as a diff shows it, however Elastic Load Balancing spells it back; and the two actions
//! the stack makes: the HTTP listener's redirect to HTTPS, and the fixed response of the HTTPS
//! listener's rules.

use aws_sdk_elasticloadbalancingv2::types as sdk;
use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, FixedResponseActionConfig};

/// Where port 80 sends a request: the same address over HTTPS (Elastic Load Balancing fills in
/// `#{host}`, `#{path}` and `#{query}`; they are also its defaults).
pub(super) const REDIRECT: Redirect<'static> = Redirect {
    protocol: "HTTPS",
    port: "443",
    host: "#{host}",
    path: "/#{path}",
    query: "#{query}",
    status: "HTTP_301",
};

/// A redirect action's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Redirect<'a> {
    pub(super) protocol: &'a str,
    pub(super) port: &'a str,
    pub(super) host: &'a str,
    pub(super) path: &'a str,
    pub(super) query: &'a str,
    pub(super) status: &'a str,
}

impl Redirect<'_> {
    /// As a diff shows it.
    pub(super) fn shown(&self) -> String {
        let Redirect {
            protocol,
            port,
            host,
            path,
            query,
            status,
        } = self;
        format!("redirect to {protocol}://{host}:{port}{path}?{query} ({status})")
    }
}

/// A fixed-response action's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FixedResponse<'a> {
    pub(super) status: &'a str,
    pub(super) content_type: &'a str,
    pub(super) body: &'a str,
}

impl FixedResponse<'_> {
    /// As a diff shows it.
    pub(super) fn shown(&self) -> String {
        let FixedResponse {
            status,
            content_type,
            body,
        } = self;
        format!("fixed response {status} {content_type} {body:?}")
    }

    /// As the SDK takes it.
    pub(super) fn action(&self) -> sdk::Action {
        sdk::Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(self.status)
                    .content_type(self.content_type)
                    .message_body(self.body)
                    .build(),
            )
            .build()
    }
}

/// One action as a diff shows it: a forward by its target groups' ARNs, a redirect by where it
/// sends (Elastic Load Balancing's defaults filled in), a fixed response by what it answers, any
/// other by its type.
pub(super) fn action_shown(action: &sdk::Action) -> String {
    match action.r#type() {
        Some(ActionTypeEnum::Forward) => {
            let mut groups: Vec<&str> = action.target_group_arn().into_iter().collect();
            if groups.is_empty() {
                groups = action
                    .forward_config()
                    .map(|c| {
                        c.target_groups()
                            .iter()
                            .filter_map(|g| g.target_group_arn())
                            .collect()
                    })
                    .unwrap_or_default();
            }
            if groups.is_empty() {
                "forward to (none)".into()
            } else {
                format!("forward to {}", groups.join(", "))
            }
        }
        Some(ActionTypeEnum::Redirect) => {
            let config = action.redirect_config();
            Redirect {
                protocol: config.and_then(|c| c.protocol()).unwrap_or("#{protocol}"),
                port: config.and_then(|c| c.port()).unwrap_or("#{port}"),
                host: config.and_then(|c| c.host()).unwrap_or(REDIRECT.host),
                path: config.and_then(|c| c.path()).unwrap_or(REDIRECT.path),
                query: config.and_then(|c| c.query()).unwrap_or(REDIRECT.query),
                status: config
                    .and_then(|c| c.status_code())
                    .map_or("(none)", |s| s.as_str()),
            }
            .shown()
        }
        Some(ActionTypeEnum::FixedResponse) => {
            let config = action.fixed_response_config();
            FixedResponse {
                status: config.and_then(|c| c.status_code()).unwrap_or("(none)"),
                content_type: config.and_then(|c| c.content_type()).unwrap_or("(none)"),
                body: config.and_then(|c| c.message_body()).unwrap_or_default(),
            }
            .shown()
        }
        Some(other) => other.as_str().to_owned(),
        None => "(none)".into(),
    }
}

/// A listener's or rule's actions as a diff shows them.
pub(super) fn actions_shown(actions: &[sdk::Action]) -> String {
    if actions.is_empty() {
        return "(none)".into();
    }
    actions
        .iter()
        .map(action_shown)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One condition as a diff shows it: its field and values, sorted (Elastic Load Balancing may
/// answer with a value both in the legacy `Values` and in the field's configuration).
fn condition_shown(condition: &sdk::RuleCondition) -> String {
    let mut values: Vec<&str> = condition.values().iter().map(String::as_str).collect();
    let mut regexes: Vec<&str> = condition
        .regex_values()
        .iter()
        .map(String::as_str)
        .collect();
    if let Some(config) = condition.path_pattern_config() {
        values.extend(config.values().iter().map(String::as_str));
        regexes.extend(config.regex_values().iter().map(String::as_str));
    }
    if let Some(config) = condition.host_header_config() {
        values.extend(config.values().iter().map(String::as_str));
    }
    let mut shown = condition.field().unwrap_or("(none)").to_owned();
    for (label, mut list) in [("", values), (" regex", regexes)] {
        list.sort_unstable();
        list.dedup();
        if !list.is_empty() {
            shown.push_str(&format!("{label} {}", list.join(", ")));
        }
    }
    shown
}

/// A rule's conditions as a diff shows them.
pub(super) fn conditions_shown(conditions: &[sdk::RuleCondition]) -> String {
    if conditions.is_empty() {
        return "(none)".into();
    }
    let mut shown: Vec<String> = conditions.iter().map(condition_shown).collect();
    shown.sort();
    shown.join("; ")
}
