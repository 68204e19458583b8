//! The page shell, the navigation and the form pieces every page shares.

use axum::http::StatusCode;
use ledgerly_core::{Money, Role, Theme, User};
use maud::{DOCTYPE, Markup, html};

use crate::auth::csrf;

use super::Errors;

/// Which part of the app a page belongs to, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Home,
    Dashboard,
    Receipts,
    Import,
    Recurring,
    Profile,
    Admin,
}

/// A whole page: `title`, the navigation for `user` (if signed in) and `body`.
pub(crate) fn page(
    title: &str,
    signed_in: Option<(&User, &str)>,
    section: Section,
    body: Markup,
) -> Markup {
    let theme = signed_in.map_or(Theme::System, |(user, _)| user.theme);
    let scheme = match theme {
        Theme::System => "light dark",
        Theme::Light => "light",
        Theme::Dark => "dark",
    };
    html! {
        (DOCTYPE)
        html lang="en" data-theme=(theme.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content=(scheme);
                title { (title) " · Ledgerly" }
                link rel="stylesheet" href="/static/app.css";
                link rel="manifest" href="/manifest.webmanifest";
                link rel="icon" type="image/png" href="/static/icon-192.png";
                link rel="apple-touch-icon" href="/static/icon-192.png";
                meta name="theme-color" content="#3450cc";
                script src="/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.topbar {
                    a.brand href=(if signed_in.is_some() { "/dashboard" } else { "/" }) {
                        span.logo aria-hidden="true" { "◆" } " Ledgerly"
                    }
                    @if let Some((user, csrf_token)) = signed_in {
                        nav aria-label="Main" {
                            a href="/dashboard" aria-current=[current(section, Section::Dashboard)] { "Dashboard" }
                            a href="/receipts" aria-current=[current(section, Section::Receipts)] { "Receipts" }
                            a href="/import" aria-current=[current(section, Section::Import)] { "Import" }
                            a href="/recurring" aria-current=[current(section, Section::Recurring)] { "Recurring" }
                            @if user.role == Role::Admin {
                                a href="/admin" aria-current=[current(section, Section::Admin)] { "Admin" }
                            }
                            a href="/profile" aria-current=[current(section, Section::Profile)] {
                                span.who { (user.name.as_str()) }
                            }
                            (theme_toggle(user.theme, csrf_token))
                            form.inline method="post" action="/logout" {
                                (csrf_field(csrf_token))
                                button.link type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main #main { (body) }
                footer.footer { "Ledgerly — your expenses, on your own server." }
            }
        }
    }
}

/// The topbar's theme button: says the theme in use and switches to the next (system, light,
/// dark), remembered for the account.
fn theme_toggle(theme: Theme, csrf_token: &str) -> Markup {
    let (icon, name) = match theme {
        Theme::System => ("◐", "System"),
        Theme::Light => ("☀", "Light"),
        Theme::Dark => ("☾", "Dark"),
    };
    let next = theme.next();
    html! {
        form.inline.theme-toggle method="post" action="/theme" {
            (csrf_field(csrf_token))
            input type="hidden" name="theme" value=(next.as_str());
            button.link type="submit" title={"Theme: " (name) ". Switch to " (next.as_str())}
                aria-label={"Theme: " (name) ". Switch to " (next.as_str())} {
                span aria-hidden="true" { (icon) } " " (name)
            }
        }
    }
}

fn current(section: Section, this: Section) -> Option<&'static str> {
    (section == this).then_some("page")
}

/// The hidden CSRF field every state-changing form carries.
pub(crate) fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(csrf::FIELD) value=(token); }
}

/// A page that only says something: an error, a refusal.
pub(crate) fn message_page(status: StatusCode, message: &str) -> Markup {
    page(
        status.canonical_reason().unwrap_or("Error"),
        None,
        Section::Home,
        html! {
            section.card.narrow role="alert" {
                h1 { (status.as_u16()) " · " (status.canonical_reason().unwrap_or("Error")) }
                p { (message) }
                p { a href="/dashboard" { "Back to the dashboard" } " · " a href="/" { "Home" } }
            }
        },
    )
}

/// The form-wide error, if any, at the top of a form.
pub(crate) fn form_error(errors: &Errors) -> Markup {
    html! {
        @if let Some(message) = errors.get("form") {
            p.alert role="alert" { (message) }
        }
    }
}

/// What a field's input looks like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input<'a> {
    pub(crate) kind: &'a str,
    pub(crate) autocomplete: Option<&'a str>,
    pub(crate) required: bool,
    pub(crate) list: Option<&'a str>,
    pub(crate) extra: Option<&'a str>,
    pub(crate) inputmode: Option<&'a str>,
    /// The pattern the value must match (a hint to the browser: the server checks it anyway).
    pub(crate) pattern: Option<&'a str>,
    pub(crate) autofocus: bool,
    /// Flagged for the reader to check (a field OCR was unsure of).
    pub(crate) flagged: bool,
}

impl<'a> Input<'a> {
    pub(crate) fn of(kind: &'a str) -> Self {
        Self {
            kind,
            autocomplete: None,
            required: false,
            list: None,
            extra: None,
            inputmode: None,
            pattern: None,
            autofocus: false,
            flagged: false,
        }
    }

    /// Focused when the page opens (the first field of a drawer).
    pub(crate) fn autofocus(mut self) -> Self {
        self.autofocus = true;
        self
    }

    pub(crate) fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(crate) fn autocomplete(mut self, value: &'a str) -> Self {
        self.autocomplete = Some(value);
        self
    }

    pub(crate) fn list(mut self, id: &'a str) -> Self {
        self.list = Some(id);
        self
    }

    /// A hint under the field.
    pub(crate) fn hint(mut self, text: &'a str) -> Self {
        self.extra = Some(text);
        self
    }

    /// Flagged, with `text` under it saying why, when `flagged`.
    pub(crate) fn flag_if(mut self, flagged: bool, text: &'a str) -> Self {
        if flagged {
            self.flagged = true;
            self.extra = Some(text);
        }
        self
    }

    pub(crate) fn inputmode(mut self, mode: &'a str) -> Self {
        self.inputmode = Some(mode);
        self
    }

    pub(crate) fn pattern(mut self, regex: &'a str) -> Self {
        self.pattern = Some(regex);
        self
    }
}

/// A labelled input with its error under it (linked for screen readers). `id_prefix` keeps ids
/// unique when two forms on a page have a field of the same name.
pub(crate) fn field(
    id_prefix: &str,
    name: &str,
    label: &str,
    value: &str,
    input: Input<'_>,
    errors: &Errors,
) -> Markup {
    let id = format!("{id_prefix}-{name}");
    let error = errors.get(name);
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = match (error.is_some(), input.extra.is_some()) {
        (true, true) => Some(format!("{error_id} {hint_id}")),
        (true, false) => Some(error_id.clone()),
        (false, true) => Some(hint_id.clone()),
        (false, false) => None,
    };
    html! {
        div.field.invalid[error.is_some()].flagged[input.flagged] {
            label for=(id) { (label) }
            input #(id) type=(input.kind) name=(name) value=(value)
                autocomplete=[input.autocomplete] list=[input.list] inputmode=[input.inputmode]
                pattern=[input.pattern] required[input.required] autofocus[input.autofocus]
                aria-invalid=[error.map(|_| "true")] aria-describedby=[described];
            @if let Some(hint) = input.extra {
                p.hint.flag[input.flagged] #(hint_id) { (hint) }
            }
            @if let Some(message) = error {
                p.error #(error_id) { (message) }
            }
        }
    }
}

/// A labelled select with its error under it; `options` are (value, label).
pub(crate) fn select(
    id_prefix: &str,
    name: &str,
    label: &str,
    selected: &str,
    options: &[(String, String)],
    errors: &Errors,
) -> Markup {
    let id = format!("{id_prefix}-{name}");
    let error = errors.get(name);
    let error_id = format!("{id}-error");
    html! {
        div.field.invalid[error.is_some()] {
            label for=(id) { (label) }
            select #(id) name=(name) aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| error_id.as_str())] {
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
            @if let Some(message) = error {
                p.error #(error_id) { (message) }
            }
        }
    }
}

/// The ISO 4217 codes, for a currency field's suggestions.
pub(crate) fn currency_list(id: &str) -> Markup {
    html! {
        datalist #(id) {
            @for code in ledgerly_core::Currency::codes() {
                option value=(code) {}
            }
        }
    }
}

/// The IANA time zone names, for a time zone field's suggestions.
pub(crate) fn time_zone_list(id: &str) -> Markup {
    html! {
        datalist #(id) {
            @for zone in chrono_tz::TZ_VARIANTS.iter() {
                option value=(zone.name()) {}
            }
        }
    }
}

/// An amount for people, without the minor units when there are none: `₹1,200`, `$3.50`.
pub(crate) fn money_short(money: Money) -> String {
    let text = money.format();
    let exponent = money.currency().exponent() as usize;
    if exponent > 0 {
        let zeros = format!(".{}", "0".repeat(exponent));
        if let Some(stripped) = text.strip_suffix(&zeros) {
            return stripped.to_owned();
        }
    }
    text
}

/// `1 expense`, `3 expenses`.
pub(crate) fn expense_count(count: u64) -> String {
    if count == 1 {
        "1 expense".to_owned()
    } else {
        format!("{count} expenses")
    }
}

/// A panel over the page, closed by its link (and by Escape, with JavaScript).
pub(crate) fn drawer(title: &str, close: &str, body: Markup) -> Markup {
    html! {
        div.overlay {
            a.scrim href=(close) tabindex="-1" aria-hidden="true" {}
            aside.drawer role="dialog" aria-modal="true" aria-labelledby="drawer-title" data-close=(close) {
                div.drawer-head {
                    h2 #drawer-title { (title) }
                    a.close href=(close) aria-label="Close" { "×" }
                }
                (body)
            }
        }
    }
}

/// A small centred question over the page.
pub(crate) fn dialog(title: &str, close: &str, body: Markup) -> Markup {
    html! {
        div.overlay {
            a.scrim href=(close) tabindex="-1" aria-hidden="true" {}
            section.dialog role="alertdialog" aria-modal="true" aria-labelledby="dialog-title" data-close=(close) {
                h2 #dialog-title { (title) }
                (body)
            }
        }
    }
}

/// The short message after a form worked.
pub(crate) fn notice(done: Option<&str>) -> Markup {
    let text = match done {
        Some("added") => "Expense added.",
        Some("updated") => "Expense saved.",
        Some("confirmed") => "Receipt confirmed: the expense is in your books.",
        Some("deleted") => "Expense deleted.",
        Some("receipt-deleted") => "Receipt deleted.",
        Some("duplicate-receipt") => {
            "You uploaded this very file before: here it is. Delete it to upload the file again."
        }
        Some("uploaded") => "Receipts uploaded: each is being read.",
        Some("uploaded-with-duplicates") => {
            "Receipts uploaded: each is being read. Files you had uploaded before were left out."
        }
        Some("retried") => "The receipt is being read again.",
        Some("profile") => "Profile saved.",
        Some("email") => "Email changed.",
        Some("password") => "Password changed; your other sessions are signed out.",
        Some("category") => "Categories saved.",
        Some("category-deleted") => "Category deleted.",
        Some("category-budget") => "Budget saved: it applies from this month on.",
        Some("category-budget-ended") => "Budget removed from this month on.",
        Some("tag") => "Tag renamed.",
        Some("tag-merged") => "Tags merged.",
        Some("tag-deleted") => "Tag deleted: its expenses stay, without it.",
        Some("rate") => "Rate saved: expenses in its currency count at it from its day on.",
        Some("rate-deleted") => "Rate deleted.",
        Some("ecb-on") => "ECB rates on: they convert what your own rates do not.",
        Some("ecb-off") => "ECB rates off.",
        Some("token") => "Token made.",
        Some("token-revoked") => "Token revoked: it no longer works.",
        Some("import-cancelled") => "Import cancelled: nothing from that file was recorded.",
        Some("password-reset") => {
            "Password changed, and every session signed out: log in with the new one."
        }
        Some("invite-withdrawn") => "Invite withdrawn: its link no longer makes an account.",
        Some("account-role") => "Role changed.",
        Some("account-disabled") => {
            "Account disabled: it is signed out, and its API tokens are refused."
        }
        Some("account-enabled") => "Account enabled: it can sign in again.",
        Some("account-deleted") => "Account deleted, with its receipt files.",
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerly_core::Currency;

    #[test]
    fn whole_amounts_drop_their_zeros() {
        assert_eq!(
            money_short(Money::from_minor(120_000, Currency::INR)),
            "₹1,200"
        );
        assert_eq!(money_short(Money::from_minor(350, Currency::USD)), "$3.50");
        assert_eq!(
            money_short(Money::from_minor(1500, Currency::JPY)),
            "¥1,500"
        );
    }

    #[test]
    fn fields_link_their_errors_and_escape_their_values() {
        let mut errors = Errors::none();
        errors.add("vendor", "Must not be empty");
        let markup = field(
            "add",
            "vendor",
            "Vendor",
            "<script>alert(1)</script>",
            Input::of("text"),
            &errors,
        )
        .into_string();
        assert!(markup.contains("aria-invalid=\"true\""), "{markup}");
        assert!(
            markup.contains("aria-describedby=\"add-vendor-error\""),
            "{markup}"
        );
        assert!(!markup.contains("<script>"), "{markup}");
        assert!(markup.contains("&lt;script&gt;"), "{markup}");
    }
}
