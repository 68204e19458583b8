//! The stack: its configuration, and the plan — what each resource needs, resource by resource —
//! that `plan` prints and `provision` carries out.

pub(crate) mod config;
pub(crate) mod resource;
pub(crate) mod survey;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub(crate) use config::StackConfig;

/// One field that differs: what AWS has, and what the configuration wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FieldChange {
    pub(crate) field: String,
    pub(crate) from: String,
    pub(crate) to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub(crate) enum Change {
    Create,
    Update {
        fields: Vec<FieldChange>,
    },
    Unchanged,
    /// Cannot be made yet, and why (the Lambda before the first image is pushed).
    Waiting {
        reason: String,
    },
}

/// What one resource needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ResourceChange {
    /// `ecr repository`, `s3 bucket`, …
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    #[serde(flatten)]
    pub(crate) change: Change,
}

impl fmt::Display for ResourceChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.change {
            Change::Create => write!(f, "+ {} {}", self.kind, self.name),
            Change::Unchanged => write!(f, "  {} {} (unchanged)", self.kind, self.name),
            Change::Waiting { reason } => {
                write!(f, "… {} {} (waiting: {reason})", self.kind, self.name)
            }
            Change::Update { fields } => {
                write!(f, "~ {} {}", self.kind, self.name)?;
                for field in fields {
                    write!(f, "\n    {}: {} → {}", field.field, field.from, field.to)?;
                }
                Ok(())
            }
        }
    }
}

impl ResourceChange {
    /// Whether provision would do something to it now.
    pub(crate) fn is_change(&self) -> bool {
        matches!(self.change, Change::Create | Change::Update { .. })
    }

    pub(crate) fn is_waiting(&self) -> bool {
        matches!(self.change, Change::Waiting { .. })
    }
}

/// Whether any of the `desired` tags is missing from `observed` or has another value there.
pub(crate) fn tags_missing(
    desired: &BTreeMap<String, String>,
    observed: &BTreeMap<String, String>,
) -> bool {
    desired.iter().any(|(k, v)| observed.get(k) != Some(v))
}

/// Collects the fields where `observed` is not `desired`.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    fields: Vec<FieldChange>,
}

impl Diff {
    pub(crate) fn field(
        &mut self,
        field: &str,
        observed: impl fmt::Display,
        desired: impl fmt::Display,
    ) {
        let (from, to) = (observed.to_string(), desired.to_string());
        if from != to {
            self.fields.push(FieldChange {
                field: field.to_owned(),
                from,
                to,
            });
        }
    }

    /// Tags: every desired tag present with its value (others, added by people, are left alone).
    pub(crate) fn tags(
        &mut self,
        observed: &BTreeMap<String, String>,
        desired: &BTreeMap<String, String>,
    ) {
        for (key, value) in desired {
            match observed.get(key) {
                Some(have) if have == value => {}
                have => self.fields.push(FieldChange {
                    field: format!("tags.{key}"),
                    from: have.cloned().unwrap_or_else(|| "(none)".into()),
                    to: value.clone(),
                }),
            }
        }
    }

    /// The change for a resource as AWS has it (`observed`): to be created when it is not there,
    /// else the fields `compare` finds different.
    pub(crate) fn of<T>(observed: Option<&T>, compare: impl FnOnce(&T, &mut Diff)) -> Change {
        let Some(have) = observed else {
            return Change::Create;
        };
        let mut diff = Diff::default();
        compare(have, &mut diff);
        diff.into_change()
    }

    /// The change for a resource whose tags are all that can drift.
    pub(crate) fn tags_only(
        observed: &BTreeMap<String, String>,
        desired: &BTreeMap<String, String>,
    ) -> Change {
        let mut diff = Diff::default();
        diff.tags(observed, desired);
        diff.into_change()
    }

    pub(crate) fn into_change(self) -> Change {
        if self.fields.is_empty() {
            Change::Unchanged
        } else {
            Change::Update {
                fields: self.fields,
            }
        }
    }
}

/// A policy document as compact, key-sorted JSON, so two spellings of one policy compare equal.
/// (Sorted here: serde_json keeps insertion order when any crate in the build asks it to.)
pub(crate) fn canonical_json(text: &str) -> String {
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(
                    entries.into_iter().map(|(k, v)| (k, sorted(v))).collect(),
                )
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(sorted).collect())
            }
            other => other,
        }
    }
    serde_json::from_str::<serde_json::Value>(text)
        .map(|v| sorted(v).to_string())
        .unwrap_or_else(|_| text.to_owned())
}
