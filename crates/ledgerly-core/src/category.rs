//! Categories: every account starts with the original app's three — food, entertainment, work —
//! and people add, rename and remove their own.

use serde::Serialize;

use crate::ids::CategoryId;
use crate::text::CategoryName;

/// The categories every new account starts with.
pub const DEFAULT_CATEGORIES: [&str; 3] = ["food", "entertainment", "work"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub id: CategoryId,
    pub name: CategoryName,
    /// One of [`DEFAULT_CATEGORIES`], created with the account.
    pub is_default: bool,
}

/// The default categories as validated names.
pub fn default_category_names() -> Vec<CategoryName> {
    DEFAULT_CATEGORIES
        .iter()
        .filter_map(|name| CategoryName::parse(name).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_names() {
        assert_eq!(default_category_names().len(), DEFAULT_CATEGORIES.len());
    }
}
