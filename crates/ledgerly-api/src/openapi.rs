//! The OpenAPI 3.1 document, generated from the code: every handler carries a
//! `#[utoipa::path]` and is registered through `utoipa_axum::routes!`, so a route cannot exist
//! without its documentation or be documented at a path it is not served on. Served at
//! `/api/v1/openapi.json`, with Swagger UI (bundled in the binary, no CDN) at `/api/docs`.

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref};
use utoipa::{Modify, OpenApi};

use crate::auth::token;

pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
pub const DOCS_PATH: &str = "/api/docs";

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Ledgerly API",
        description = "Expenses, budgets, statistics and receipts with OCR.\n\n\
            Money is a decimal string with its currency (`\"amount\": \"1234.50\", \"currency\": \"INR\"`); \
            a JSON number is accepted on input. Dates are `YYYY-MM-DD`, months `YYYY-MM`, ids UUIDs. \
            Every error is `{\"error\": {\"code\": \"…\", \"message\": \"…\"}}`.\n\n\
            Sign in with `POST /api/v1/auth/login`, then send the token as `Authorization: Bearer <token>` \
            (browsers use the `ledgerly_session` cookie it also sets). Scripts and apps can use a personal \
            API token instead (`POST /api/v1/tokens`, sent the same way): read or read-write, expiring.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("session_cookie" = []), ("api_token" = [])),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "account", description = "The signed-in account"),
        (name = "expenses", description = "Expenses: create, list, filter, export"),
        (name = "categories", description = "The default categories and the account's own"),
        (name = "tags", description = "Tags on expenses: list, rename, merge, delete"),
        (name = "tokens", description = "Personal API tokens for scripts and apps: named, read or read-write, expiring"),
        (name = "admin", description = "The administrator's: the instance's accounts and the invites to register"),
        (name = "backup", description = "Everything of the account in one zip file, to take elsewhere or restore"),
        (name = "rates", description = "Exchange rates: yours, and the ECB's reference rates, which convert expenses in other currencies for the statistics"),
        (name = "recurring", description = "Recurring expenses: rules that make an expense every N days, weeks, months or years"),
        (name = "budget", description = "The monthly budget and the month's summary"),
        (name = "stats", description = "Totals for charts"),
        (name = "receipts", description = "Receipt files and their OCR"),
        (name = "imports", description = "Importing expenses from CSV files: preview, then commit"),
        (name = "internal", description = "Machine-to-machine: signed OCR results"),
        (name = "operations", description = "Health, readiness and metrics"),
    ),
    components(schemas(crate::error::ErrorBody)),
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The `token` from register or login: a login session."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("lgy_…")
                    .description(Some(
                        "A personal API token (`lgy_…`, from `POST /api/v1/tokens`), sent as \
                         `Authorization: Bearer`. A `read` token may only send GET, HEAD and \
                         OPTIONS (else 403 `insufficient_scope`). No token may manage the \
                         account's sign-in — the operations that list only `bearer` and \
                         `session_cookie` — (403 `session_required`). An expired or revoked \
                         token is 401.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                token::COOKIE,
                "The session cookie register and login set (HttpOnly, SameSite=Lax; named \
                 `__Host-ledgerly_session` when the API is served over HTTPS). With the cookie, \
                 every request other than GET, HEAD and OPTIONS must also send the session's CSRF \
                 token in `X-CSRF-Token` (the dashboard's pages carry it); without it the answer is \
                 403 `csrf_refused`.",
            ))),
        );
    }
}

/// The document for the routes collected into `openapi`: gives every operation the error shape as
/// its `default` response, and every operation that needs a session its 401. (A modifier on
/// [`ApiDoc`] would run before the routes are added.)
pub fn complete(mut openapi: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    {
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let responses = &mut operation.responses.responses;
                // `security: None` means the document's: a credential is required, as it is
                // when the operation names its own; only an empty requirement (`security(())`)
                // means none.
                let public = operation.security.as_ref().is_some_and(|requirements| {
                    requirements
                        .iter()
                        .any(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
                });
                if !public {
                    responses.entry("401".into()).or_insert_with(|| {
                        error("Not signed in, or the session has expired or was revoked").into()
                    });
                }
                responses.entry("default".into()).or_insert_with(|| {
                    error(
                        "An error: a 4xx says what was wrong with the request (422 names the \
                         field); 404 for ids that are not the account's",
                    )
                    .into()
                });
            }
        }
    }
    openapi
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}
