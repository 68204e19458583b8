//! Exchange rates: the ones each user enters, the ECB's reference rates the API instances fetch,
//! whether a user uses the latter, and the [`RateBook`] that converts one user's amounts.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ledgerly_core::rates::{ECB_RATE_LASTS_DAYS, EcbRate, Rate, RateBook, UserRate};
use ledgerly_core::{Currency, UserId};

use crate::error::found;
use crate::rows::currency;
use crate::{Result, Store, StoreError, now, with_db};

/// A user's rate as stored: base, quote, day, rate.
type UserRateRow = (String, String, NaiveDate, String);
/// An ECB rate as stored: currency, day, per euro.
type EcbRateRow = (String, NaiveDate, String);

fn rate(text: &str) -> Result<Rate> {
    Rate::parse(text).map_err(StoreError::corrupt)
}

impl Store {
    /// Records (or replaces) the user's rate of `base` into `quote` from `day` on.
    #[tracing::instrument(skip_all, err)]
    pub async fn set_user_rate(&self, user: UserId, entered: &UserRate) -> Result<()> {
        if entered.base == entered.quote {
            return Err(StoreError::Invalid(
                "a rate converts between two different currencies".into(),
            ));
        }
        with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO exchange_rates (user_id, base, quote, day, rate, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (user_id, base, quote, day) DO UPDATE SET rate = excluded.rate, \
                 created_at = excluded.created_at",
            )
            .bind(user.as_uuid())
            .bind(entered.base.code())
            .bind(entered.quote.code())
            .bind(entered.day)
            .bind(entered.rate.to_decimal_string())
            .bind(now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The rates the user entered, newest day first.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_user_rates(&self, user: UserId) -> Result<Vec<UserRate>> {
        let rows: Vec<UserRateRow> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT base, quote, day, rate FROM exchange_rates WHERE user_id = $1 \
                 ORDER BY day DESC, base, quote",
            )
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(base, quote, day, text)| {
                Ok(UserRate {
                    base: currency(&base)?,
                    quote: currency(&quote)?,
                    day,
                    rate: rate(&text)?,
                })
            })
            .collect()
    }

    /// Deletes one of the user's rates.
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_user_rate(
        &self,
        user: UserId,
        base: Currency,
        quote: Currency,
        day: NaiveDate,
    ) -> Result<()> {
        let deleted = with_db!(self, |pool, d| {
            sqlx::query(
                "DELETE FROM exchange_rates WHERE user_id = $1 AND base = $2 AND quote = $3 \
                 AND day = $4",
            )
            .bind(user.as_uuid())
            .bind(base.code())
            .bind(quote.code())
            .bind(day)
            .execute(pool)
            .await?
            .rows_affected()
        });
        found(deleted, "exchange rate")
    }

    /// Whether the user's statistics use the ECB's reference rates (after their own).
    #[tracing::instrument(skip_all, err)]
    pub async fn uses_ecb_rates(&self, user: UserId) -> Result<bool> {
        let uses: Option<bool> = with_db!(self, |pool, d| {
            sqlx::query_scalar("SELECT uses_ecb_rates FROM users WHERE id = $1")
                .bind(user.as_uuid())
                .fetch_optional(pool)
                .await?
        });
        uses.ok_or(StoreError::NotFound("user"))
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn set_uses_ecb_rates(&self, user: UserId, uses: bool) -> Result<()> {
        let updated = with_db!(self, |pool, d| {
            sqlx::query("UPDATE users SET uses_ecb_rates = $2, updated_at = $3 WHERE id = $1")
                .bind(user.as_uuid())
                .bind(uses)
                .bind(now())
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(updated, "user")
    }

    /// Whether any user uses the ECB's rates: the instances fetch them only then.
    #[tracing::instrument(skip_all, err)]
    pub async fn ecb_rates_wanted(&self) -> Result<bool> {
        let wanted: Option<i32> = with_db!(self, |pool, d| {
            sqlx::query_scalar("SELECT 1 FROM users WHERE uses_ecb_rates LIMIT 1")
                .fetch_optional(pool)
                .await?
        });
        Ok(wanted.is_some())
    }

    /// Keeps the ECB's rates (a day fetched again replaces its rates). Gives how many were
    /// written.
    #[tracing::instrument(skip_all, err)]
    pub async fn save_ecb_rates(&self, rates: &[EcbRate]) -> Result<u64> {
        let at = now();
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let mut saved = 0;
            for rate in rates {
                saved += sqlx::query(
                    "INSERT INTO ecb_rates (currency, day, per_euro, fetched_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (currency, day) DO UPDATE \
                     SET per_euro = excluded.per_euro, fetched_at = excluded.fetched_at",
                )
                .bind(rate.currency.code())
                .bind(rate.day)
                .bind(rate.per_euro.to_decimal_string())
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok(saved)
        })
    }

    /// The newest day the ECB's rates are kept for, and when they were fetched.
    #[tracing::instrument(skip_all, err)]
    pub async fn latest_ecb_rates(&self) -> Result<Option<(NaiveDate, DateTime<Utc>)>> {
        Ok(with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT day, fetched_at FROM ecb_rates ORDER BY day DESC, fetched_at DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
        }))
    }

    /// The rates that turn the user's amounts in `currencies` into `home` on days up to `until`
    /// (and from `since`, for the ECB's): the user's own, and the ECB's when the user uses them.
    #[tracing::instrument(skip_all, err)]
    pub async fn rate_book(
        &self,
        user: UserId,
        home: Currency,
        currencies: &[Currency],
        (since, until): (NaiveDate, NaiveDate),
    ) -> Result<RateBook> {
        let foreign: Vec<&str> = currencies
            .iter()
            .filter(|c| **c != home)
            .map(|c| c.code())
            .collect();
        if foreign.is_empty() {
            return Ok(RateBook::new(home, &[], &[]));
        }
        let oldest = since - Duration::days(ECB_RATE_LASTS_DAYS);
        let (own, ecb): (Vec<UserRateRow>, Vec<EcbRateRow>) = with_db!(self, |pool, d| {
            let mut own = Vec::new();
            let mut ecb = Vec::new();
            for code in &foreign {
                let mut rows: Vec<UserRateRow> = sqlx::query_as(
                    "SELECT base, quote, day, rate FROM exchange_rates WHERE user_id = $1 \
                         AND ((base = $2 AND quote = $3) OR (base = $3 AND quote = $2)) \
                         AND day <= $4",
                )
                .bind(user.as_uuid())
                .bind(*code)
                .bind(home.code())
                .bind(until)
                .fetch_all(pool)
                .await?;
                own.append(&mut rows);
            }
            let uses: Option<bool> =
                sqlx::query_scalar("SELECT uses_ecb_rates FROM users WHERE id = $1")
                    .bind(user.as_uuid())
                    .fetch_optional(pool)
                    .await?;
            if uses == Some(true) {
                for code in foreign.iter().copied().chain([home.code()]) {
                    let mut rows: Vec<EcbRateRow> = sqlx::query_as(
                        "SELECT currency, day, per_euro FROM ecb_rates \
                             WHERE currency = $1 AND day >= $2 AND day <= $3",
                    )
                    .bind(code)
                    .bind(oldest)
                    .bind(until)
                    .fetch_all(pool)
                    .await?;
                    ecb.append(&mut rows);
                }
            }
            (own, ecb)
        });
        let own = own
            .into_iter()
            .map(|(base, quote, day, text)| {
                Ok(UserRate {
                    base: currency(&base)?,
                    quote: currency(&quote)?,
                    day,
                    rate: rate(&text)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let ecb = ecb
            .into_iter()
            .map(|(code, day, text)| {
                Ok(EcbRate {
                    currency: currency(&code)?,
                    day,
                    per_euro: rate(&text)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RateBook::new(home, &own, &ecb))
    }
}
