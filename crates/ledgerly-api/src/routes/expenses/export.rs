//! The CSV export of the filtered list: every matching row, encoded as it is read from the store
//! and sent in pieces, so the server holds a few pieces at a time however many rows there are.

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use ledgerly_core::Expense;
use ledgerly_store::StoreError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ListParams, query};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppQuery, CurrentUser};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_csv))
}

/// A piece of the body is sent once it holds this much: it then holds up to one row and the CSV
/// writer's buffer (8 KiB) more. A million rows are some 3,000 pieces.
const CHUNK_BYTES: usize = 32 * 1024;

const HEADER: [&str; 8] = [
    "date",
    "category",
    "vendor",
    "amount",
    "currency",
    "needs_review",
    "note",
    "id",
];

/// The body's error when the export fails after its first bytes. The status has gone out by
/// then, so the transfer is cut short instead (no last chunk): the client sees an incomplete
/// download, never a shorter file that looks whole.
#[derive(Debug, thiserror::Error)]
#[error("the export failed part way; the file is incomplete")]
struct ExportCutShort;

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or carriage return
/// first) is prefixed with `'`.
fn csv_cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn write_row(csv: &mut csv::Writer<Vec<u8>>, e: &Expense) -> csv::Result<()> {
    let cells: [Cow<'_, str>; 8] = [
        Cow::Owned(e.date.to_string()),
        csv_cell(e.category.as_str()),
        csv_cell(e.vendor.as_str()),
        Cow::Owned(e.amount.to_decimal_string()),
        Cow::Owned(e.amount.currency().to_string()),
        Cow::Borrowed(if e.needs_review { "true" } else { "false" }),
        e.note
            .as_ref()
            .map_or(Cow::Borrowed(""), |n| csv_cell(n.as_str())),
        Cow::Owned(e.id.to_string()),
    ];
    csv.write_record(cells.iter().map(|cell| cell.as_bytes()))
}

/// Turns rows into pieces of the CSV file, the header first.
struct Encoder<S> {
    rows: S,
    header: bool,
    finished: bool,
    written: u64,
}

impl<S> Encoder<S>
where
    S: Stream<Item = Result<Expense, StoreError>> + Unpin,
{
    /// The next piece of at least [`CHUNK_BYTES`] (the last may be smaller), or `None` after
    /// the last.
    async fn next_chunk(&mut self) -> anyhow::Result<Option<Bytes>> {
        if self.finished {
            return Ok(None);
        }
        let mut csv = csv::Writer::from_writer(Vec::with_capacity(CHUNK_BYTES + 16 * 1024));
        if std::mem::take(&mut self.header) {
            csv.write_record(HEADER)?;
        }
        // The writer passes its buffer on to the `Vec` whenever the buffer fills.
        while csv.get_ref().len() < CHUNK_BYTES {
            match self.rows.next().await {
                Some(row) => {
                    write_row(&mut csv, &row?)?;
                    self.written += 1;
                }
                None => {
                    self.finished = true;
                    break;
                }
            }
        }
        let chunk = csv.into_inner()?;
        Ok((!chunk.is_empty()).then(|| Bytes::from(chunk)))
    }
}

/// The CSV file of `rows` as pieces of about [`CHUNK_BYTES`], read one piece ahead of the
/// client at most. A failure is logged and ends the stream with [`ExportCutShort`].
fn csv_chunks(
    rows: impl Stream<Item = Result<Expense, StoreError>> + Send + Unpin + 'static,
) -> impl Stream<Item = Result<Bytes, ExportCutShort>> + Send + 'static {
    // The body is read after the handler has returned: its log lines still belong to the request.
    let span = tracing::Span::current();
    let encoder = Encoder {
        rows,
        header: true,
        finished: false,
        written: 0,
    };
    stream::unfold(Some(encoder), move |encoder| {
        let span = span.clone();
        async move {
            let mut encoder = encoder?;
            match encoder.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(encoder))),
                Ok(None) => None,
                Err(err) => {
                    span.in_scope(|| {
                        tracing::error!(
                            error = ?err,
                            rows_sent = encoder.written,
                            "the CSV export failed after its first bytes; its transfer is cut short"
                        );
                    });
                    Some((Err(ExportCutShort), None))
                }
            }
        }
    })
}

/// The filtered list as CSV: every matching expense in the list's order, with no row limit
/// (`page` and `per_page` are checked but do not apply). Cells a spreadsheet would run as
/// formulas are prefixed with `'`.
///
/// The file is streamed as it is read. Should reading fail after its first bytes, the transfer
/// is cut short, so an incomplete file never looks complete. Each export holds a database
/// connection while it runs, so a quarter of the server's pool serves exports at once; past that
/// the answer is 503 `busy` with `Retry-After`. A client that stops reading for a minute has its
/// transfer cut short.
#[utoipa::path(get, operation_id = "exportExpensesCsv", path = "/expenses/export.csv", tag = "expenses", params(ListParams),
    responses((status = 200, description = "The expenses as CSV, streamed", content_type = "text/csv", body = String),
        (status = 503, description = "As many exports as the server runs at once are running", body = crate::error::ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait")))))]
#[tracing::instrument(skip_all)]
async fn export_csv(
    State(state): State<AppState>,
    current: CurrentUser,
    AppQuery(params): AppQuery<ListParams>,
) -> ApiResult<Response> {
    let query = query(&state.store, current.user.id, params).await?;
    // Held until the body is sent or dropped.
    let permit = state
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy {
            what: "other CSV exports",
            retry_after: 10,
        })?;
    let mut rows = state.store.export_expenses(current.user.id, &query);
    // The first row (or the end) is awaited before answering, so a database out of reach or a
    // statement that fails still gets its own status; after the headers, nothing can change it.
    let first = match rows.next().await {
        Some(Err(err)) => return Err(err.into()),
        first => first,
    };
    let body = Body::from_stream(
        csv_chunks(stream::iter(first).chain(rows)).map(move |chunk| {
            let _held = &permit;
            chunk
        }),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"expenses.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};
    use ledgerly_core::{CategoryId, CategoryName, Currency, ExpenseId, Money, UserId, Vendor};

    fn expense(vendor: &str) -> Expense {
        Expense {
            id: ExpenseId::new(),
            user_id: UserId::new(),
            category_id: CategoryId::new(),
            category: CategoryName::parse("food").unwrap(),
            date: NaiveDate::from_ymd_opt(2026, 3, 14).unwrap(),
            occurred_at: None,
            vendor: Vendor::parse(vendor).unwrap(),
            amount: Money::from_minor(35_000, Currency::INR),
            note: None,
            needs_review: false,
            receipt_id: None,
            tags: Vec::new(),
            recurring_id: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    async fn encode(rows: Vec<Result<Expense, StoreError>>) -> Vec<Result<Bytes, ExportCutShort>> {
        csv_chunks(stream::iter(rows)).collect().await
    }

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("Blue Tokai"), "Blue Tokai");
    }

    #[tokio::test]
    async fn rows_are_sent_in_pieces_that_make_one_file() {
        let rows: Vec<Expense> = (0..3_000)
            .map(|i| expense(&format!("Vendor {i}")))
            .collect();
        let pieces = encode(rows.iter().cloned().map(Ok).collect()).await;
        let pieces: Vec<Bytes> = pieces.into_iter().map(Result::unwrap).collect();
        assert!(pieces.len() > 3, "{} pieces", pieces.len());
        let (last, full) = pieces.split_last().unwrap();
        for piece in full {
            assert!(
                (CHUNK_BYTES..=CHUNK_BYTES + 16 * 1024).contains(&piece.len()),
                "a piece of {} bytes",
                piece.len()
            );
        }
        assert!(!last.is_empty() && last.len() <= CHUNK_BYTES + 16 * 1024);
        let file: Vec<u8> = pieces.concat();
        let mut reader = csv::Reader::from_reader(file.as_slice());
        assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), HEADER);
        let ids: Vec<String> = reader.records().map(|r| r.unwrap()[7].to_owned()).collect();
        let expected: Vec<String> = rows.iter().map(|e| e.id.to_string()).collect();
        assert_eq!(ids, expected);
    }

    #[tokio::test]
    async fn no_rows_is_the_header_alone() {
        let pieces = encode(Vec::new()).await;
        assert_eq!(pieces.len(), 1);
        assert_eq!(
            pieces[0].as_ref().unwrap(),
            &Bytes::from_static(b"date,category,vendor,amount,currency,needs_review,note,id\n")
        );
    }

    #[tokio::test]
    async fn a_failure_after_the_first_bytes_ends_the_body_in_an_error() {
        let mut rows: Vec<Result<Expense, StoreError>> = (0..1_000)
            .map(|i| Ok(expense(&format!("Vendor {i}"))))
            .collect();
        rows.push(Err(StoreError::Interrupted));
        rows.push(Ok(expense("After the failure")));
        let pieces = encode(rows).await;
        let (last, sent) = pieces.split_last().unwrap();
        assert!(matches!(last, Err(ExportCutShort)));
        assert!(!sent.is_empty() && sent.iter().all(Result::is_ok));
    }
}
