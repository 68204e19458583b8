//! The profile's tags: each with how many expenses carry it and a link to them, renamed, merged
//! into another, deleted. Tags are made by naming them on an expense (the dashboard's drawers).

use super::NoFields;
use axum::extract::State;
use axum::response::Response;
use ledgerly_core::{TagId, TagName, TagUse};
use ledgerly_store::StoreError;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

use super::layout::{Input, csrf_field, expense_count, field};
use super::profile::{Failed, errors_of, render};
use super::{Errors, PagePath, SignedForm, WebUser, failure, see_other};

/// The dashboard's table filtered by the tag `name`.
fn dashboard_link(name: &TagName) -> String {
    let query = serde_urlencoded::to_string([("tags", name.as_str())]).unwrap_or_default();
    format!("/dashboard?{query}")
}

/// The tags card; `failed` is the page's form that did not pass, shown again in its tag's row
/// when it is a tag's.
pub(super) fn card(tags: &[TagUse], csrf: &str, failed: Option<&Failed>) -> Markup {
    let none = Errors::none();
    // The name sent when it did not pass, else the tag's own.
    let tag_form = |id: TagId, value: &str| -> (String, &Errors) {
        match failed {
            Some(Failed::Tag(failed_id, sent, errors)) if *failed_id == id => {
                (sent.as_deref().unwrap_or(value).to_owned(), errors)
            }
            _ => (value.to_owned(), &none),
        }
    };
    html! {
        section.card.tags aria-labelledby="tags-title" #tags {
            h2 #tags-title { "Tags" }
            @if tags.is_empty() {
                p.muted.tags-empty { "No tags yet: add them to expenses in the add or edit drawer." }
            } @else {
                p.hint {
                    "Merging a tag gives its expenses the other one and deletes it. Deleting a tag "
                    "takes it off its expenses; the expenses stay."
                }
                ul.tag-list {
                    @for tag in tags {
                        @let (name, errors) = tag_form(tag.id, tag.name.as_str());
                        @let prefix = format!("tag-{}", tag.id);
                        @let others: Vec<&TagUse> = tags.iter().filter(|t| t.id != tag.id).collect();
                        li data-tag=(tag.id) {
                            p.tag-head {
                                a.tag-name href=(dashboard_link(&tag.name)) { (tag.name.as_str()) }
                                span.muted { (expense_count(tag.expenses)) }
                            }
                            form.tag-row method="post" action={"/profile/tags/" (tag.id)} novalidate {
                                (csrf_field(csrf))
                                (field(&prefix, "name", &format!("New name for {}", tag.name.as_str()), &name, Input::of("text").required(), errors))
                                button type="submit" aria-label={"Rename " (tag.name.as_str())} { "Rename" }
                            }
                            @if !others.is_empty() {
                                form.tag-row method="post" action={"/profile/tags/" (tag.id) "/merge"} {
                                    (csrf_field(csrf))
                                    div.field.invalid[errors.get("into").is_some()] {
                                        label for={(prefix) "-into"} { "Merge " (tag.name.as_str()) " into" }
                                        select #{(prefix) "-into"} name="into"
                                            aria-invalid=[errors.get("into").map(|_| "true")]
                                            aria-describedby=[errors.get("into").map(|_| format!("{prefix}-into-error"))] {
                                            option value="" { "Merge into…" }
                                            @for other in &others {
                                                option value=(other.id) { (other.name.as_str()) }
                                            }
                                        }
                                        @if let Some(message) = errors.get("into") {
                                            p.error #{(prefix) "-into-error"} { (message) }
                                        }
                                    }
                                    button type="submit" aria-label={"Merge " (tag.name.as_str())} { "Merge" }
                                }
                            }
                            form.tag-row method="post" action={"/profile/tags/" (tag.id) "/delete"} {
                                (csrf_field(csrf))
                                button.danger type="submit" aria-label={"Delete " (tag.name.as_str())} { "Delete" }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct RenameForm {
    name: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct MergeForm {
    into: String,
}

fn tag_name(text: &str) -> ApiResult<TagName> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("name", "enter a name"));
    }
    TagName::parse(text).map_err(|e| ApiError::invalid("name", e))
}

/// A tag form's failure, shown in its row (`field` when the error names none); faults and a
/// tag that is not the user's become an error page.
async fn tag_failed(
    state: &AppState,
    user: &WebUser,
    id: TagId,
    sent: Option<String>,
    err: ApiError,
    field: &'static str,
) -> Response {
    match errors_of(err, field) {
        Ok((status, errors)) => {
            let failed = Failed::Tag(id, sent, errors);
            render(state, user, Some(failed), None, status).await
        }
        Err(err) => failure(err),
    }
}

/// `POST /profile/tags/{id}`: renames one; its expenses keep it. A name another tag has is
/// refused beside the field: those two are merged instead.
pub(crate) async fn rename_tag(
    State(state): State<AppState>,
    PagePath(id): PagePath<TagId>,
    SignedForm { user, form }: SignedForm<RenameForm>,
) -> Response {
    let name = match tag_name(&form.name) {
        Ok(name) => name,
        Err(err) => return tag_failed(&state, &user, id, Some(form.name), err, "name").await,
    };
    match state.store.rename_tag(user.user().id, id, &name).await {
        Ok(()) => see_other("/profile?done=tag#tags"),
        Err(StoreError::TagNameTaken(taken)) => {
            let err = ApiError::invalid(
                "name",
                format!("a tag named `{taken}` exists: merge them instead"),
            );
            tag_failed(&state, &user, id, Some(form.name), err, "name").await
        }
        Err(err) => tag_failed(&state, &user, id, Some(form.name), err.into(), "name").await,
    }
}

/// `POST /profile/tags/{id}/merge`: gives the tag's expenses the tag `into` and deletes it.
pub(crate) async fn merge_tag(
    State(state): State<AppState>,
    PagePath(id): PagePath<TagId>,
    SignedForm { user, form }: SignedForm<MergeForm>,
) -> Response {
    let into = match form.into.trim() {
        "" => {
            let err = ApiError::invalid("into", "choose the tag to merge it into");
            return tag_failed(&state, &user, id, None, err, "into").await;
        }
        text => match text.parse::<TagId>() {
            Ok(into) => into,
            Err(_) => return failure(ApiError::NotFound("tag")),
        },
    };
    match state.store.merge_tags(user.user().id, id, into).await {
        Ok(_) => see_other("/profile?done=tag-merged#tags"),
        Err(err) => tag_failed(&state, &user, id, None, err.into(), "into").await,
    }
}

/// `POST /profile/tags/{id}/delete`: deletes one; its expenses stay, without it.
pub(crate) async fn delete_tag(
    State(state): State<AppState>,
    PagePath(id): PagePath<TagId>,
    SignedForm { user, .. }: SignedForm<NoFields>,
) -> Response {
    match state.store.delete_tag(user.user().id, id).await {
        Ok(()) => see_other("/profile?done=tag-deleted#tags"),
        Err(err) => failure(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str, expenses: u64) -> TagUse {
        TagUse {
            id: TagId::new(),
            name: TagName::parse(name).unwrap_or_else(|_| unreachable!()),
            expenses,
        }
    }

    #[test]
    fn no_tags_says_where_they_are_made() {
        let markup = card(&[], "t", None).into_string();
        assert!(
            markup.contains("No tags yet: add them to expenses in the add or edit drawer."),
            "{markup}"
        );
        assert!(!markup.contains("<form"), "{markup}");
    }

    #[test]
    fn each_tag_links_to_its_expenses_and_merges_only_into_the_others() {
        let tags = [tag("café & co", 1), tag("trip", 3)];
        let markup = card(&tags, "t", None).into_string();
        assert!(
            markup.contains("href=\"/dashboard?tags=caf%C3%A9+%26+co\""),
            "{markup}"
        );
        assert!(markup.contains("1 expense<"), "{markup}");
        assert!(markup.contains("3 expenses"), "{markup}");
        let merge = format!("/profile/tags/{}/merge", tags[1].id);
        let (_, form) = markup.split_once(&merge).unwrap_or_default();
        let (form, _) = form.split_once("</form>").unwrap_or_default();
        assert!(form.contains(&tags[0].id.to_string()), "{form}");
        assert!(
            !form.contains(&format!("value=\"{}\"", tags[1].id)),
            "{form}"
        );
        // A lone tag has nothing to merge into.
        let markup = card(&tags[..1], "t", None).into_string();
        assert!(!markup.contains("/merge"), "{markup}");
    }

    #[test]
    fn a_refused_rename_is_shown_in_its_row_with_the_name_sent() {
        let tags = [tag("travel", 1), tag("trip", 3)];
        let mut errors = Errors::none();
        errors.add("name", "A tag named “travel” exists: merge them instead");
        let failed = Failed::Tag(tags[1].id, Some("travel".into()), errors);
        let markup = card(&tags, "t", Some(&failed)).into_string();
        let error = format!("id=\"tag-{}-name-error\"", tags[1].id);
        assert!(markup.contains(&error), "{markup}");
        assert!(
            markup.contains("A tag named “travel” exists: merge them instead"),
            "{markup}"
        );
        assert_eq!(markup.matches("class=\"error\"").count(), 1, "{markup}");
    }
}
