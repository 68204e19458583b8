//! Tags: any number per expense beside its one category — "trip-lisbon", "reimbursable" —
//! created on the fly by naming them, renamed and merged later.

use serde::{Deserialize, Serialize};

use crate::ids::TagId;
use crate::money::Money;
use crate::text::TagName;

/// The most tags one expense carries.
pub const MAX_TAGS_PER_EXPENSE: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub id: TagId,
    pub name: TagName,
}

/// A tag and how many expenses carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagUse {
    pub id: TagId,
    pub name: TagName,
    pub expenses: u64,
}

/// What the expenses with a tag add up to in one currency over a period. An expense with two
/// tags counts in both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagTotal {
    pub tag: TagName,
    pub amount: Money,
    pub count: u64,
}

/// Whether a list filtered by several tags wants expenses with any of them or with all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagMatch {
    #[default]
    Any,
    All,
}

/// Why a set of tags cannot go on an expense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an expense carries at most {MAX_TAGS_PER_EXPENSE} tags (got {0})")]
pub struct TooManyTags(pub usize);

/// `tags` once each, by key (the first spelling kept), sorted by key: the set an expense
/// carries.
pub fn tag_set(tags: Vec<TagName>) -> Result<Vec<TagName>, TooManyTags> {
    let mut set: Vec<TagName> = Vec::with_capacity(tags.len());
    for tag in tags {
        if !set.iter().any(|t| t.key() == tag.key()) {
            set.push(tag);
        }
    }
    if set.len() > MAX_TAGS_PER_EXPENSE {
        return Err(TooManyTags(set.len()));
    }
    set.sort_by_key(TagName::key);
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str) -> TagName {
        TagName::parse(name).unwrap()
    }

    #[test]
    fn a_set_holds_each_tag_once_in_key_order() {
        let set = tag_set(vec![tag("Work"), tag("trip"), tag("work"), tag("  Trip ")]).unwrap();
        assert_eq!(set, [tag("trip"), tag("Work")]);
    }

    #[test]
    fn too_many_tags_are_refused_and_commas_are_not_tags() {
        let many = (0..=MAX_TAGS_PER_EXPENSE)
            .map(|i| tag(&format!("t{i}")))
            .collect();
        assert_eq!(tag_set(many), Err(TooManyTags(MAX_TAGS_PER_EXPENSE + 1)));
        let err = TagName::parse("trip, work").unwrap_err();
        assert_eq!(err.to_string(), "the tag cannot contain `,`");
        assert!(TagName::parse(" ").is_err());
    }
}
