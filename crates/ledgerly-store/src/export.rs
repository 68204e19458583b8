//! The export: every expense of a user that matches a list's filters, in the list's order, read
//! by one statement as a stream, so its memory does not grow with the number of rows.
//!
//! A task of its own runs the statement and hands the rows over a bounded channel; it waits
//! whenever the reader falls behind, and stops as soon as the reader is dropped. The drivers
//! stream too: on PostgreSQL the rows are read off the socket as they are decoded, and on SQLite
//! the connection's worker thread steps the statement one row at a time into a bounded channel
//! (`row_buffer_size`, 50 rows) and blocks while it is full.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::{Stream, TryStreamExt};
use ledgerly_core::{Expense, UserId};
use sqlx::QueryBuilder;
use tokio::sync::mpsc;

use crate::expenses::{order_by, push_filters};
use crate::rows::{ExpenseRow, expense_select};
use crate::{Dialect, ExpenseQuery, Result, Store, StoreError, with_db};

/// Rows cross to the reader in batches: a million rows are some 4,000 hand-offs between the
/// tasks rather than a million.
const BATCH_ROWS: usize = 256;

/// Batches read ahead of the reader. With the batch being filled and the one being read, at most
/// 6 × [`BATCH_ROWS`] rows are held, however many the export has.
const BATCHES_AHEAD: usize = 4;

/// How long the task waits for a reader that takes nothing (a client that stopped reading its
/// download) before it gives up, closes the statement and gives its connection back. The reader
/// then sees the export as interrupted.
const READER_STALL: Duration = Duration::from_secs(60);

/// What the reading task sends.
#[derive(Debug)]
enum Batch {
    Rows(Vec<Expense>),
    /// The statement failed, or a row did not convert; nothing follows.
    Failed(StoreError),
    /// Every row was sent.
    End,
}

/// How the reading task stopped.
enum Outcome {
    /// The statement returned its last row.
    Drained,
    /// The reader went away first.
    Abandoned,
}

impl Store {
    /// Every expense of `user` matching `query`'s filters, in its order, as they are read: one
    /// statement, no page and no row limit (`page` and `per_page` are ignored).
    ///
    /// The stream yields expenses rather than encoded chunks so that the store stays ignorant
    /// of file formats; it owns what it needs (a handle on the pool and a copy of the query), so
    /// it may outlive the borrows it was made from — a response body, say. The statement runs
    /// in a task of its own, which keeps one pool connection until the last row is read or the
    /// stream is dropped, at most a few batches of rows ahead of the reader. A failure is the
    /// last item; a stream that ends without one has yielded every row.
    ///
    /// Must be called within a Tokio runtime (it spawns the task).
    pub fn export_expenses(
        &self,
        user: UserId,
        query: &ExpenseQuery,
    ) -> impl Stream<Item = Result<Expense>> + Send + Unpin + use<> {
        let (tx, rx) = mpsc::channel(BATCHES_AHEAD);
        tokio::spawn(send_rows(self.clone(), user, query.clone(), tx));
        ExportedRows {
            rx,
            batch: Vec::new().into_iter(),
            finished: false,
        }
    }
}

/// Runs the export's statement and sends what it returns to `tx`.
#[tracing::instrument(name = "export_expenses", skip_all)]
async fn send_rows(store: Store, user: UserId, query: ExpenseQuery, tx: mpsc::Sender<Batch>) {
    if let Err(err) = read_rows(&store, user, &query, &tx).await {
        // A reader that has gone needs no error.
        tx.send(Batch::Failed(err)).await.ok();
    }
}

async fn read_rows(
    store: &Store,
    user: UserId,
    query: &ExpenseQuery,
    tx: &mpsc::Sender<Batch>,
) -> Result<()> {
    with_db!(store, |pool, d| {
        let mut conn = pool.acquire().await?;
        let mut select = QueryBuilder::new(expense_select!());
        push_filters(&mut select, d, user, query);
        select.push(order_by(query.sort));
        let outcome = tokio::select! {
            biased;
            outcome = forward(select.build_query_as::<ExpenseRow>().fetch(&mut *conn), tx) => {
                outcome
            }
            // Also while the database is still working towards the first row.
            () = tx.closed() => Ok(Outcome::Abandoned),
        };
        // A PostgreSQL connection stopped part way through a result would, back in the pool,
        // first read and discard the rest of it — up to every remaining row. Closed instead,
        // the server stops sending. (A SQLite connection's worker stops stepping on its own, and
        // closing it would lose an in-memory database.)
        if !matches!(outcome, Ok(Outcome::Drained)) && d == Dialect::Postgres {
            conn.close_on_drop();
        }
        outcome.map(|_| ())
    })
}

/// Sends the rows of `rows` to `tx` in batches of [`BATCH_ROWS`], then [`Batch::End`].
async fn forward(
    mut rows: impl Stream<Item = Result<ExpenseRow, sqlx::Error>> + Unpin,
    tx: &mpsc::Sender<Batch>,
) -> Result<Outcome> {
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    while let Some(row) = rows.try_next().await? {
        batch.push(Expense::try_from(row)?);
        if batch.len() == BATCH_ROWS {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
            match tokio::time::timeout(READER_STALL, tx.send(Batch::Rows(full))).await {
                Ok(Ok(())) => {}
                Ok(Err(_gone)) => return Ok(Outcome::Abandoned),
                Err(_stalled) => {
                    tracing::warn!(
                        "the export's reader took nothing for {} s; the export stops",
                        READER_STALL.as_secs()
                    );
                    return Ok(Outcome::Abandoned);
                }
            }
        }
    }
    // The statement is complete, so the connection is clean whether or not these arrive.
    if !batch.is_empty() {
        tx.send(Batch::Rows(batch)).await.ok();
    }
    tx.send(Batch::End).await.ok();
    Ok(Outcome::Drained)
}

/// The reader's side: the batches, one expense at a time.
#[derive(Debug)]
struct ExportedRows {
    rx: mpsc::Receiver<Batch>,
    batch: std::vec::IntoIter<Expense>,
    finished: bool,
}

impl Stream for ExportedRows {
    type Item = Result<Expense>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(expense) = self.batch.next() {
                return Poll::Ready(Some(Ok(expense)));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            match ready!(self.rx.poll_recv(cx)) {
                Some(Batch::Rows(rows)) => self.batch = rows.into_iter(),
                Some(Batch::End) => self.finished = true,
                Some(Batch::Failed(err)) => {
                    self.finished = true;
                    return Poll::Ready(Some(Err(err)));
                }
                // The task ended without saying how (it panicked, or the runtime is shutting
                // down): the rows so far are not all of them, and the reader must know.
                None => {
                    self.finished = true;
                    return Poll::Ready(Some(Err(StoreError::Interrupted)));
                }
            }
        }
    }
}
