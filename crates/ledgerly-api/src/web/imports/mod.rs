//! Importing a CSV file from the dashboard: the upload page, the preview with its settings, the
//! commit and the cancel — the JSON API's own steps ([`crate::routes::imports`]) behind forms.
//!
//! `/import` takes the file; `/import/<id>` shows what it would record, posts changed settings
//! back to itself, and commits (`/import/<id>/commit`) or cancels (`/import/<id>/delete`).
//! Nothing is recorded before the commit, which answers with the dashboard and a notice.

mod preview;
mod settings;

use crate::web::NoFields;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ledgerly_core::{Category, ImportId};
use maud::{Markup, html};
use serde::Deserialize;

use crate::auth::csrf;
use crate::error::{ApiError, ApiResult};
use crate::routes::imports::{
    ImportView, Uploaded, change_settings, commit_import, preview as preview_of, read_file_field,
    start_import,
};
use crate::state::AppState;

use super::layout::{self, Section, csrf_field, notice};
use super::profile::errors_of;
use super::{Errors, PagePath, SignedForm, WebUser, failure, param, see_other};

use preview::Shown;
use settings::SettingsForm;

/// The upload's body limit: the file's and room for the form around it.
pub(super) const UPLOAD_LIMIT: usize = crate::routes::restore::MAX_BACKUP_BYTES + 64 * 1024;

/// `n thing` or `n things`.
fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn expenses(n: u64) -> String {
    count(n, "expense", "expenses")
}

/// The dashboard's notice after a commit.
pub(crate) fn imported_notice(created: u64, skipped: u64) -> Markup {
    let skipped = if skipped > 0 {
        format!(" ({} skipped)", count(skipped, "duplicate", "duplicates"))
    } else {
        String::new()
    };
    html! { p.notice role="status" { "Imported " (expenses(created)) (skipped) "." } }
}

/// The upload form, with what was wrong with the last file beside the field.
fn upload_page(user: &WebUser, done: Option<&str>, errors: &Errors) -> Markup {
    let error = errors.get("file").or(errors.get("form"));
    let described = match error {
        Some(_) => "import-file-hint import-file-error",
        None => "import-file-hint",
    };
    let body = html! {
        (notice(done))
        div.page-head { h1 { "Import a CSV or a backup" } }
        section.card.import-upload-card aria-labelledby="import-upload-title" {
            h2 #import-upload-title { "Upload a file" }
            p {
                "Ledgerly reads the file, works out how it is laid out and shows you a preview. "
                "You can change any setting it guessed. "
                strong { "Nothing is recorded until you confirm the import." }
            }
            ul.import-kinds {
                li { "Bank exports: a column of money out and one of money in, or one column of signed amounts. Money in is listed, not imported." }
                li { "Files separated by semicolons or tabs, with decimal commas (1.234,50), in UTF-8, UTF-16 or Windows-1252." }
                li { "Ledgerly's own CSV export (" strong { "Export CSV" } " on the dashboard), from this account or another." }
                li { "A Ledgerly backup (" strong { "Download a backup" } " on the profile): restored at once, receipts and all, skipping what this account has already." }
            }
            form.upload.import-upload method="post" action="/import" enctype="multipart/form-data" {
                (csrf_field(&user.csrf))
                div.field.invalid[error.is_some()] {
                    label for="import-file" { "CSV file or backup" }
                    input #import-file type="file" name="file" required
                        accept=".csv,.txt,.tsv,.zip,text/csv,text/plain,application/zip"
                        aria-invalid=[error.map(|_| "true")] aria-describedby=(described);
                    p.hint #import-file-hint { "A CSV file: up to 5 MB and 50,000 rows. A backup: up to 512 MiB." }
                    @if let Some(message) = error {
                        p.error #import-file-error { (message) }
                    }
                }
                div.form-actions {
                    button.primary type="submit" { "Upload and preview" }
                }
            }
        }
    };
    layout::page(
        "Import",
        Some((user.user(), &user.csrf)),
        Section::Import,
        body,
    )
}

/// `GET /import`.
pub(crate) async fn start(user: WebUser, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let page = upload_page(&user, param(&pairs, "done"), &Errors::none());
    (StatusCode::OK, page).into_response()
}

/// `POST /import`: keeps the file and shows its preview; a file that cannot be imported is
/// named beside the field, with the API's status for it.
pub(crate) async fn upload(
    State(state): State<AppState>,
    user: WebUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let (file, extra) = match read_file_field(multipart, &[csrf::FIELD]).await {
        Ok(read) => read,
        // Nothing was kept, and there is no token to check yet: the form again, with why.
        Err(err) => return upload_refused(&user, err),
    };
    let token = extra
        .iter()
        .find(|(name, _)| name == csrf::FIELD)
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    if !user.csrf_matches(token) {
        return failure(ApiError::CsrfRefused);
    }
    let (bytes, name) = match file {
        Some(Uploaded::Csv(bytes, name)) => (bytes, name),
        Some(Uploaded::Backup(upload)) => {
            return match crate::routes::restore::restore(&state, user.user(), upload).await {
                Ok(done) => see_other(&format!(
                    "/dashboard?done=imported&created={}&skipped={}",
                    done.expenses_created, done.duplicates_skipped
                )),
                Err(err) => upload_refused(&user, err),
            };
        }
        None => {
            let err = ApiError::invalid("file", "choose the CSV file or backup to import");
            return upload_refused(&user, err);
        }
    };
    match start_import(&state, user.user(), name, &bytes).await {
        Ok(id) => see_other(&format!("/import/{id}")),
        Err(err) => upload_refused(&user, err),
    }
}

fn upload_refused(user: &WebUser, err: ApiError) -> Response {
    match errors_of(err, "file") {
        Ok((status, errors)) => (status, upload_page(user, None, &errors)).into_response(),
        Err(err) => failure(err),
    }
}

/// A form of the preview page that did not pass, shown again there.
#[derive(Debug)]
enum Failed {
    /// The settings as sent, with what was wrong.
    Settings(Box<SettingsForm>, Errors),
    /// Why the commit was refused.
    Commit(Errors),
}

/// The import (another user's is not found) and the categories its default can be.
async fn load(
    state: &AppState,
    user: &ledgerly_core::User,
    id: ImportId,
) -> ApiResult<(ImportView, Vec<Category>)> {
    let import = state.store.get_import(user.id, id).await?;
    let view = preview_of(state, user, import).await?;
    let categories = state.store.list_categories(user.id).await?;
    Ok((view, categories))
}

/// The preview page of import `id`, with a form that failed.
async fn show(
    state: &AppState,
    user: &WebUser,
    id: ImportId,
    failed: Option<Failed>,
    status: StatusCode,
) -> Response {
    let u = user.user();
    let (view, categories) = match load(state, u, id).await {
        Ok(loaded) => loaded,
        Err(err) => return failure(err),
    };
    let shown = match &failed {
        Some(Failed::Settings(form, errors)) => Shown {
            settings: Some((form, errors)),
            commit: None,
        },
        Some(Failed::Commit(errors)) => Shown {
            settings: None,
            commit: Some(errors),
        },
        None => Shown {
            settings: None,
            commit: None,
        },
    };
    let body = preview::body(u, &view, &categories, &shown, &user.csrf);
    let title = format!("Import {}", view.file_name);
    let page = layout::page(&title, Some((u, &user.csrf)), Section::Import, body);
    (status, page).into_response()
}

/// `GET /import/{id}`.
pub(crate) async fn page(
    State(state): State<AppState>,
    user: WebUser,
    PagePath(id): PagePath<ImportId>,
) -> Response {
    show(&state, &user, id, None, StatusCode::OK).await
}

/// `POST /import/{id}`: reads the file with the settings sent and shows the preview again; the
/// settings that do not fit the file are named on the form, as sent, beside the last preview.
pub(crate) async fn update(
    State(state): State<AppState>,
    PagePath(id): PagePath<ImportId>,
    SignedForm { user, form }: SignedForm<SettingsForm>,
) -> Response {
    let view = match form.to_view() {
        Ok(view) => view,
        Err(errors) => {
            let failed = Failed::Settings(Box::new(form), errors);
            return show(
                &state,
                &user,
                id,
                Some(failed),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let result = match view.to_settings() {
        Ok(settings) => change_settings(&state, user.user(), id, settings).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(_) => see_other(&format!("/import/{id}")),
        Err(err) => match errors_of(err, "settings") {
            Ok((status, errors)) => {
                let failed = Failed::Settings(Box::new(form), errors);
                show(&state, &user, id, Some(failed), status).await
            }
            Err(err) => failure(err),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CommitForm {
    /// Sent (as `yes`) when the box is ticked.
    include_duplicates: String,
}

/// `POST /import/{id}/commit`: records the rows, then the dashboard says how many.
pub(crate) async fn commit(
    State(state): State<AppState>,
    PagePath(id): PagePath<ImportId>,
    SignedForm { user, form }: SignedForm<CommitForm>,
) -> Response {
    let include_duplicates = !form.include_duplicates.is_empty();
    match commit_import(&state, user.user(), id, include_duplicates).await {
        Ok(done) => see_other(&format!(
            "/dashboard?done=imported&created={}&skipped={}",
            done.created, done.duplicates_skipped
        )),
        Err(err) => match errors_of(under("commit", err), "commit") {
            Ok((status, errors)) => {
                show(&state, &user, id, Some(Failed::Commit(errors)), status).await
            }
            Err(err) => failure(err),
        },
    }
}

/// A refusal shown at `field`, whichever field the API named.
fn under(field: &'static str, err: ApiError) -> ApiError {
    match err {
        ApiError::Invalid {
            field: named,
            message,
        } => {
            let message = match named {
                Some(named) => message
                    .strip_prefix(&format!("{named}: "))
                    .map(str::to_owned)
                    .unwrap_or(message),
                None => message,
            };
            ApiError::invalid(field, message)
        }
        other => other,
    }
}

/// `POST /import/{id}/delete`: forgets the file (a committed import's expenses stay).
pub(crate) async fn delete(
    State(state): State<AppState>,
    PagePath(id): PagePath<ImportId>,
    SignedForm { user, .. }: SignedForm<NoFields>,
) -> Response {
    match state.store.delete_import(user.user().id, id).await {
        Ok(()) => see_other("/import?done=import-cancelled"),
        Err(err) => failure(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_says_how_many_were_imported_and_skipped() {
        let text = |created, skipped| imported_notice(created, skipped).into_string();
        assert!(
            text(3, 0).contains("Imported 3 expenses."),
            "{}",
            text(3, 0)
        );
        assert!(text(1, 1).contains("Imported 1 expense (1 duplicate skipped)."));
        assert!(text(0, 4).contains("Imported 0 expenses (4 duplicates skipped)."));
    }

    #[test]
    fn a_commit_refusal_shows_at_the_commit_whatever_field_it_names() {
        let err = under(
            "commit",
            ApiError::invalid("file", "no row can be imported"),
        );
        let errors = Errors::from_api(err, "commit").unwrap_or_default();
        assert_eq!(errors.get("commit"), Some("No row can be imported"));
    }
}
