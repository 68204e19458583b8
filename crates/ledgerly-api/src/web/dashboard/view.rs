//! The dashboard's state, read from its address and written back into its links.

use ledgerly_core::{Month, User};

use crate::routes::expenses::ListParams;
use crate::web::param;

/// The table's columns; `Actions` is always shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    Date,
    Vendor,
    Category,
    Amount,
    Note,
    Status,
}

impl Column {
    pub(super) const ALL: [Column; 6] = [
        Column::Date,
        Column::Vendor,
        Column::Category,
        Column::Amount,
        Column::Note,
        Column::Status,
    ];
    pub(super) const DEFAULT: [Column; 5] = [
        Column::Date,
        Column::Vendor,
        Column::Category,
        Column::Amount,
        Column::Status,
    ];

    pub(super) fn key(self) -> &'static str {
        match self {
            Column::Date => "date",
            Column::Vendor => "vendor",
            Column::Category => "category",
            Column::Amount => "amount",
            Column::Note => "note",
            Column::Status => "status",
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Column::Date => "Date",
            Column::Vendor => "Vendor",
            Column::Category => "Category",
            Column::Amount => "Amount",
            Column::Note => "Note",
            Column::Status => "Status",
        }
    }

    /// The sort key this column's header sorts by, and its first direction.
    pub(super) fn sort(self) -> Option<(&'static str, bool)> {
        match self {
            Column::Date => Some(("date", true)),
            Column::Vendor => Some(("vendor", false)),
            Column::Amount => Some(("amount", true)),
            _ => None,
        }
    }

    fn parse(text: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.key() == text)
    }
}

/// Rows per page the table offers.
pub(super) const PAGE_SIZES: [u32; 3] = [5, 10, 15];

/// The dashboard's state, from its address.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub(super) year: i32,
    pub(super) from: String,
    pub(super) to: String,
    pub(super) category: String,
    pub(super) q: String,
    /// Tag names, separated by commas.
    pub(super) tags: String,
    /// `any` or `all` of `tags`; empty for the default (any).
    pub(super) tags_match: String,
    pub(super) sort: String,
    pub(super) page: u32,
    pub(super) per_page: u32,
    pub(super) columns: Vec<Column>,
    pub(super) overlay: Overlay,
    pub(super) done: Option<String>,
    /// After an import (`done=imported`): the expenses it created and the duplicates it skipped.
    pub(super) imported: Option<(u64, u64)>,
}

/// What opens over the page.
#[derive(Debug, Clone)]
pub(crate) enum Overlay {
    None,
    /// `add=manual`.
    Add,
    /// `add=receipt`.
    Upload,
    /// `edit=<id>`.
    Edit(String),
    /// `review=<id>`.
    Review(String),
    /// `delete=<id>`.
    Delete(String),
    /// `receipt=<id>`: an uploaded receipt and its OCR status.
    Receipt(String),
}

impl View {
    pub(crate) fn parse(pairs: &[(String, String)], user: &User) -> View {
        let get = |key: &str| param(pairs, key).unwrap_or_default().to_owned();
        let this_year = Month::of(user.time_zone.today()).year();
        let year = get("year")
            .parse::<i32>()
            .ok()
            .filter(|y| (1970..=9999).contains(y))
            .unwrap_or(this_year);
        let per_page = get("per_page")
            .parse::<u32>()
            .ok()
            .filter(|n| PAGE_SIZES.contains(n))
            .unwrap_or(10);
        let page = get("page")
            .parse::<u32>()
            .ok()
            .filter(|p| *p >= 1)
            .unwrap_or(1);
        let mut columns: Vec<Column> = pairs
            .iter()
            .filter(|(k, _)| k == "cols")
            .filter_map(|(_, v)| Column::parse(v))
            .collect();
        columns.dedup();
        if columns.is_empty() {
            columns = Column::DEFAULT.to_vec();
        }
        let overlay = match () {
            _ if !get("edit").is_empty() => Overlay::Edit(get("edit")),
            _ if !get("review").is_empty() => Overlay::Review(get("review")),
            _ if !get("delete").is_empty() => Overlay::Delete(get("delete")),
            _ if !get("receipt").is_empty() => Overlay::Receipt(get("receipt")),
            _ if get("add") == "receipt" => Overlay::Upload,
            _ if get("add") == "manual" => Overlay::Add,
            _ => Overlay::None,
        };
        let done = Some(get("done")).filter(|d| !d.is_empty());
        let imported = (done.as_deref() == Some("imported")).then(|| {
            let number = |key: &str| get(key).parse::<u64>().unwrap_or(0);
            (number("created"), number("skipped"))
        });
        View {
            year,
            from: get("from"),
            to: get("to"),
            category: get("category"),
            q: get("q"),
            tags: get("tags"),
            // The default is no parameter, so the filter form's "Any tag" adds none to links.
            tags_match: Some(get("tags_match"))
                .filter(|m| m != "any")
                .unwrap_or_default(),
            sort: Some(get("sort"))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "-date".into()),
            page,
            per_page,
            columns,
            overlay,
            done,
            imported,
        }
    }

    /// The table's state as query pairs (no drawer, no notice).
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |key: &'static str, value: &str| {
            if !value.is_empty() {
                pairs.push((key, value.to_owned()));
            }
        };
        push("year", &self.year.to_string());
        push("from", &self.from);
        push("to", &self.to);
        push("category", &self.category);
        push("q", &self.q);
        push("tags", &self.tags);
        push("tags_match", &self.tags_match);
        if self.sort != "-date" {
            push("sort", &self.sort);
        }
        if self.page != 1 {
            push("page", &self.page.to_string());
        }
        if self.per_page != 10 {
            push("per_page", &self.per_page.to_string());
        }
        if self.columns != Column::DEFAULT {
            for column in &self.columns {
                pairs.push(("cols", column.key().to_owned()));
            }
        }
        pairs
    }

    /// `/dashboard?…` with the table's state, changed by `changes` (an empty value removes).
    pub(super) fn link(&self, changes: &[(&'static str, String)]) -> String {
        let mut pairs = self.pairs();
        for (key, value) in changes {
            pairs.retain(|(k, _)| k != key);
            if !value.is_empty() {
                pairs.push((key, value.clone()));
            }
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() {
            "/dashboard".to_owned()
        } else {
            format!("/dashboard?{query}")
        }
    }

    /// This page's table filtered by the tag `name` alone (the other filters kept), from its
    /// first page.
    pub(super) fn tag_link(&self, name: &str) -> String {
        self.link(&[
            ("tags", name.to_owned()),
            ("tags_match", String::new()),
            ("page", String::new()),
        ])
    }

    /// Whether the table is filtered at all.
    pub(super) fn filtered(&self) -> bool {
        [&self.from, &self.to, &self.category, &self.q, &self.tags]
            .iter()
            .any(|value| !value.is_empty())
    }

    /// Where a drawer's form goes back to: this page with its table as it was.
    pub(super) fn back(&self) -> String {
        self.link(&[])
    }

    pub(super) fn filter_params(&self, page: u32) -> ListParams {
        let text = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        ListParams {
            from: text(&self.from),
            to: text(&self.to),
            category: text(&self.category),
            q: text(&self.q),
            needs_review: None,
            tags: text(&self.tags),
            tags_match: text(&self.tags_match),
            sort: Some(self.sort.clone()),
            page: Some(page),
            per_page: Some(self.per_page),
        }
    }

    /// The address of the CSV export of the filtered table (every page).
    pub(super) fn export_link(&self) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for (key, value) in [
            ("from", &self.from),
            ("to", &self.to),
            ("category", &self.category),
            ("q", &self.q),
            ("tags", &self.tags),
            ("tags_match", &self.tags_match),
            ("sort", &self.sort),
        ] {
            if !value.is_empty() {
                pairs.push((key, value));
            }
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("/api/v1/expenses/export.csv?{query}")
    }
}

/// How many pages `total` rows make, at least one.
pub(super) fn pages(total: u64, per_page: u32) -> u32 {
    u32::try_from(total.div_ceil(u64::from(per_page.max(1))))
        .unwrap_or(u32::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: ledgerly_core::UserId::new(),
            email: ledgerly_core::Email::parse("a@example.com").unwrap_or_else(|_| unreachable!()),
            name: ledgerly_core::PersonName::parse("A").unwrap_or_else(|_| unreachable!()),
            currency: ledgerly_core::Currency::INR,
            time_zone: ledgerly_core::UserTimeZone::UTC,
            theme: ledgerly_core::Theme::System,
            role: ledgerly_core::Role::Member,
            created_at: chrono::Utc::now(),
        }
    }

    fn pairs(query: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(query).unwrap_or_default()
    }

    #[test]
    fn links_keep_the_table_and_drop_the_drawer() {
        let view = View::parse(
            &pairs("year=2025&q=tea&sort=amount&page=3&per_page=5&edit=x&cols=date&cols=amount"),
            &user(),
        );
        assert!(matches!(view.overlay, Overlay::Edit(_)));
        let back = view.back();
        assert!(
            back.starts_with("/dashboard?year=2025&q=tea&sort=amount&page=3&per_page=5"),
            "{back}"
        );
        assert!(
            back.contains("cols=date&cols=amount") && !back.contains("edit"),
            "{back}"
        );
        let next = view.link(&[("page", "4".into())]);
        assert!(
            next.contains("page=4") && !next.contains("page=3"),
            "{next}"
        );
    }

    #[test]
    fn odd_addresses_fall_back_to_defaults() {
        let view = View::parse(&pairs("per_page=1000&page=0&year=abc&cols=nope"), &user());
        assert_eq!(view.per_page, 10);
        assert_eq!(view.page, 1);
        assert_eq!(view.columns, Column::DEFAULT.to_vec());
        assert_eq!(pages(0, 10), 1);
        assert_eq!(pages(11, 5), 3);
    }

    #[test]
    fn tag_filters_are_kept_in_links_and_a_tag_link_filters_by_that_tag_alone() {
        let view = View::parse(
            &pairs("q=tea&tags=trip%2Cwork&tags_match=all&page=2"),
            &user(),
        );
        let params = view.filter_params(1);
        assert_eq!(params.tags.as_deref(), Some("trip,work"));
        assert_eq!(params.tags_match.as_deref(), Some("all"));
        let back = view.back();
        assert!(back.contains("tags=trip%2Cwork&tags_match=all"), "{back}");
        let chip = view.tag_link("café & co");
        assert!(chip.contains("q=tea"), "{chip}");
        assert!(chip.contains("tags=caf%C3%A9+%26+co"), "{chip}");
        assert!(
            !chip.contains("tags_match") && !chip.contains("page="),
            "{chip}"
        );
        assert!(
            view.export_link()
                .contains("tags=trip%2Cwork&tags_match=all")
        );
    }

    #[test]
    fn an_import_notice_reads_its_counts_and_links_drop_it() {
        let view = View::parse(&pairs("done=imported&created=3&skipped=x"), &user());
        assert_eq!(view.imported, Some((3, 0)));
        assert_eq!(view.back(), format!("/dashboard?year={}", view.year));
        let view = View::parse(&pairs("done=added&created=3"), &user());
        assert_eq!(view.imported, None);
    }
}
