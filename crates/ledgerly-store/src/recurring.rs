//! Recurring expenses: the rules, their skips, and the generator that makes their expenses when
//! they fall due.
//!
//! A rule keeps `next_index` (the occurrence it makes next) and `next_on` (that occurrence's
//! date, `NULL` once the schedule has ended). [`Store::make_due_recurring`] claims every rule
//! whose `next_on` has come — on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so several API
//! instances pass over each other's rules; on SQLite under the single write lock — and in one
//! transaction inserts its expenses and moves `next_index` on. The claim re-reads `next_on`, so
//! a rule another instance has just served is no longer due; and `(recurring_id, recurring_on)`
//! is unique, so an occurrence is never made twice whatever happens.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ledgerly_core::recurring::{
    NewRecurring, Occurrence, RecurringChanges, RecurringRule, Schedule, Unit,
};
use ledgerly_core::{
    CategoryName, ExpenseId, Money, Note, RecurringId, UserId, UserTimeZone, Vendor,
};
use uuid::Uuid;

use crate::error::{found, missing};
use crate::rows::currency;
use crate::{Result, Store, StoreError, now, with_db};

/// The most occurrences one rule makes in one transaction; a rule further behind (a daily one
/// started long ago) makes the rest in the next passes.
pub const MAX_MADE_PER_PASS: u32 = 1_000;

/// The most occurrences [`Store::upcoming_recurring`] lists per rule.
const MAX_UPCOMING_PER_RULE: usize = 366;

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: Uuid,
    user_id: Uuid,
    category_id: Uuid,
    category: String,
    vendor: String,
    amount_minor: i64,
    currency: String,
    note: Option<String>,
    unit: String,
    every: i32,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    day_of_month: Option<i32>,
    next_index: i32,
    next_on: Option<NaiveDate>,
    paused: bool,
    made: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Every [`RuleRow`] column, of `recurring_rules r` and its category `c`.
macro_rules! rule_select {
    () => {
        "SELECT r.id, r.user_id, r.category_id, c.name AS category, r.vendor, r.amount_minor, \
         r.currency, r.note, r.unit, r.every, r.starts_on, r.ends_on, r.day_of_month, \
         r.next_index, r.next_on, r.paused, \
         (SELECT COUNT(*) FROM expenses x WHERE x.recurring_id = r.id) AS made, \
         r.created_at, r.updated_at \
         FROM recurring_rules r JOIN categories c ON c.id = r.category_id "
    };
}

fn count(value: i32, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| StoreError::corrupt(format!("negative {what} {value}")))
}

impl RuleRow {
    fn schedule(&self) -> Result<Schedule> {
        let unit = Unit::parse(&self.unit).map_err(StoreError::corrupt)?;
        let day_of_month = self
            .day_of_month
            .map(|d| count(d, "day of month"))
            .transpose()?;
        Schedule::new(
            unit,
            count(self.every, "every")?,
            self.starts_on,
            self.ends_on,
            day_of_month,
        )
        .map_err(StoreError::corrupt)
    }

    fn into_rule(self, skips: Vec<NaiveDate>) -> Result<RecurringRule> {
        let schedule = self.schedule()?;
        Ok(RecurringRule {
            id: self.id.into(),
            user_id: self.user_id.into(),
            category_id: self.category_id.into(),
            category: CategoryName::parse(&self.category).map_err(StoreError::corrupt)?,
            vendor: Vendor::parse(&self.vendor).map_err(StoreError::corrupt)?,
            amount: Money::from_minor(self.amount_minor, currency(&self.currency)?),
            note: self
                .note
                .as_deref()
                .map(Note::parse)
                .transpose()
                .map_err(StoreError::corrupt)?,
            schedule,
            paused: self.paused,
            next_index: count(self.next_index, "next index")?,
            next_on: self.next_on,
            skips,
            made: self.made.unsigned_abs(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Where a schedule stands after `index`: its next index, clamped into `i32`, and its date.
fn position(schedule: &Schedule, index: u32) -> Result<(i32, Option<NaiveDate>)> {
    let stored = i32::try_from(index)
        .map_err(|_| StoreError::Invalid("the schedule has too many occurrences".into()))?;
    Ok((stored, schedule.date(index)))
}

fn schedule_error(err: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(err.to_string())
}

impl Store {
    /// Records a recurring expense. It makes nothing yet: [`Store::make_due_recurring`] does,
    /// from its start on (the API calls it at once, so a rule started in the past catches up).
    #[tracing::instrument(skip_all, err)]
    pub async fn create_recurring(&self, user: UserId, new: NewRecurring) -> Result<RecurringRule> {
        ledgerly_core::expense::ensure_spendable(new.amount)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let id = RecurringId::new();
        let schedule = new.schedule;
        let (next_index, next_on) = position(&schedule, schedule.first_index())?;
        let at = now();
        with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO recurring_rules (id, user_id, category_id, vendor, amount_minor, \
                 currency, note, unit, every, starts_on, ends_on, day_of_month, next_index, \
                 next_on, paused, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, false, \
                 $15, $15)",
            )
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .bind(new.category_id.as_uuid())
            .bind(new.vendor.as_str())
            .bind(new.amount.minor())
            .bind(new.amount.currency().code())
            .bind(new.note.as_ref().map(|n| n.as_str()))
            .bind(schedule.unit.as_str())
            .bind(i32::try_from(schedule.every).map_err(schedule_error)?)
            .bind(schedule.starts_on)
            .bind(schedule.ends_on)
            .bind(
                schedule
                    .day_of_month
                    .map(i32::try_from)
                    .transpose()
                    .map_err(schedule_error)?,
            )
            .bind(next_index)
            .bind(next_on)
            .bind(at)
            .execute(pool)
            .await
            .map_err(missing("category"))?;
        });
        self.get_recurring(user, id).await
    }

    /// The user's recurring expenses, oldest first.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_recurring(&self, user: UserId) -> Result<Vec<RecurringRule>> {
        let (rows, skips): (Vec<RuleRow>, Vec<(Uuid, NaiveDate)>) = with_db!(self, |pool, d| {
            let rows = sqlx::query_as(concat!(
                rule_select!(),
                "WHERE r.user_id = $1 ORDER BY r.created_at, r.id"
            ))
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await?;
            let skips = sqlx::query_as(
                "SELECT s.rule_id, s.occurs_on FROM recurring_skips s \
                 JOIN recurring_rules r ON r.id = s.rule_id \
                 WHERE r.user_id = $1 AND r.next_on IS NOT NULL AND s.occurs_on >= r.next_on \
                 ORDER BY s.occurs_on",
            )
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await?;
            (rows, skips)
        });
        rows.into_iter()
            .map(|row| {
                let own = skips
                    .iter()
                    .filter(|(rule, _)| *rule == row.id)
                    .map(|(_, day)| *day)
                    .collect();
                row.into_rule(own)
            })
            .collect()
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn get_recurring(&self, user: UserId, id: RecurringId) -> Result<RecurringRule> {
        let (row, skips): (Option<RuleRow>, Vec<NaiveDate>) = with_db!(self, |pool, d| {
            let row = sqlx::query_as(concat!(
                rule_select!(),
                "WHERE r.user_id = $1 AND r.id = $2"
            ))
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(pool)
            .await?;
            let skips = sqlx::query_scalar(
                "SELECT s.occurs_on FROM recurring_skips s \
                 JOIN recurring_rules r ON r.id = s.rule_id \
                 WHERE r.user_id = $1 AND r.id = $2 AND r.next_on IS NOT NULL \
                 AND s.occurs_on >= r.next_on ORDER BY s.occurs_on",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .fetch_all(pool)
            .await?;
            (row, skips)
        });
        row.ok_or(StoreError::NotFound("recurring expense"))?
            .into_rule(skips)
    }

    /// Changes a recurring expense; see [`RecurringChanges`]. Gives the rule as it now is and
    /// how many of the expenses it already made were changed with it.
    #[tracing::instrument(skip_all, err)]
    pub async fn update_recurring(
        &self,
        user: UserId,
        id: RecurringId,
        changes: RecurringChanges,
    ) -> Result<(RecurringRule, u64)> {
        if let Some(amount) = changes.amount {
            ledgerly_core::expense::ensure_spendable(amount)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
        }
        let rule = self.get_recurring(user, id).await?;
        // Where the schedule goes on from: the same count when only its end moved, else from
        // its (new) start, which must come after what was already made.
        let schedule_position = match changes.schedule {
            None => None,
            Some(schedule) => {
                let same_but_end = Schedule {
                    ends_on: rule.schedule.ends_on,
                    ..schedule
                } == rule.schedule;
                if same_but_end {
                    Some((schedule, position(&schedule, rule.next_index)?))
                } else {
                    if let Some(last) = rule.last_passed()
                        && schedule.starts_on <= last
                    {
                        return Err(StoreError::Invalid(format!(
                            "occurrences up to {last} are already made or passed; a new \
                             schedule must start after that (from {} on)",
                            last + Duration::days(1)
                        )));
                    }
                    Some((schedule, position(&schedule, schedule.first_index())?))
                }
            }
        };
        let at = now();
        let changed = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            sqlx::query(
                "UPDATE recurring_rules SET \
                 category_id = COALESCE($3, category_id), \
                 vendor = COALESCE($4, vendor), \
                 amount_minor = COALESCE($5, amount_minor), \
                 currency = COALESCE($6, currency), \
                 note = CASE WHEN $7 THEN $8 ELSE note END, \
                 updated_at = $9 \
                 WHERE user_id = $1 AND id = $2",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .bind(changes.category_id.map(|c| c.as_uuid()))
            .bind(changes.vendor.as_ref().map(|v| v.as_str()))
            .bind(changes.amount.map(|a| a.minor()))
            .bind(changes.amount.map(|a| a.currency().code()))
            .bind(changes.note.is_some())
            .bind(
                changes
                    .note
                    .clone()
                    .flatten()
                    .map(|n| n.as_str().to_owned()),
            )
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(missing("category"))?;
            if let Some((schedule, (next_index, next_on))) = schedule_position {
                sqlx::query(
                    "UPDATE recurring_rules SET unit = $2, every = $3, starts_on = $4, \
                     ends_on = $5, day_of_month = $6, next_index = $7, next_on = $8 \
                     WHERE id = $1",
                )
                .bind(id.as_uuid())
                .bind(schedule.unit.as_str())
                .bind(i32::try_from(schedule.every).map_err(schedule_error)?)
                .bind(schedule.starts_on)
                .bind(schedule.ends_on)
                .bind(
                    schedule
                        .day_of_month
                        .map(i32::try_from)
                        .transpose()
                        .map_err(schedule_error)?,
                )
                .bind(next_index)
                .bind(next_on)
                .execute(&mut *tx)
                .await?;
                // Skips that are no longer occurrences of it go.
                let skips: Vec<NaiveDate> =
                    sqlx::query_scalar("SELECT occurs_on FROM recurring_skips WHERE rule_id = $1")
                        .bind(id.as_uuid())
                        .fetch_all(&mut *tx)
                        .await?;
                for day in skips {
                    if schedule.index_of(day).is_none() {
                        sqlx::query(
                            "DELETE FROM recurring_skips WHERE rule_id = $1 AND occurs_on = $2",
                        )
                        .bind(id.as_uuid())
                        .bind(day)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            let mut changed = 0;
            let fields_changed = changes.category_id.is_some()
                || changes.vendor.is_some()
                || changes.amount.is_some()
                || changes.note.is_some();
            if let (Some(from), true) = (changes.from, fields_changed) {
                changed = sqlx::query(
                    "UPDATE expenses SET \
                     category_id = COALESCE($4, category_id), \
                     vendor = COALESCE($5, vendor), \
                     amount_minor = COALESCE($6, amount_minor), \
                     currency = COALESCE($7, currency), \
                     note = CASE WHEN $8 THEN $9 ELSE note END, \
                     updated_at = $10 \
                     WHERE user_id = $1 AND recurring_id = $2 AND recurring_on >= $3",
                )
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .bind(from)
                .bind(changes.category_id.map(|c| c.as_uuid()))
                .bind(changes.vendor.as_ref().map(|v| v.as_str()))
                .bind(changes.amount.map(|a| a.minor()))
                .bind(changes.amount.map(|a| a.currency().code()))
                .bind(changes.note.is_some())
                .bind(
                    changes
                        .note
                        .clone()
                        .flatten()
                        .map(|n| n.as_str().to_owned()),
                )
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            changed
        });
        Ok((self.get_recurring(user, id).await?, changed))
    }

    /// Deletes a recurring expense; the expenses it made stay, no longer marked as its.
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_recurring(&self, user: UserId, id: RecurringId) -> Result<()> {
        let deleted = with_db!(self, |pool, d| {
            sqlx::query("DELETE FROM recurring_rules WHERE user_id = $1 AND id = $2")
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(deleted, "recurring expense")
    }

    /// Pauses a recurring expense: it makes nothing until resumed.
    #[tracing::instrument(skip_all, err)]
    pub async fn pause_recurring(&self, user: UserId, id: RecurringId) -> Result<RecurringRule> {
        let updated = with_db!(self, |pool, d| {
            sqlx::query(
                "UPDATE recurring_rules SET paused = true, updated_at = $3 \
                 WHERE user_id = $1 AND id = $2",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .bind(now())
            .execute(pool)
            .await?
            .rows_affected()
        });
        found(updated, "recurring expense")?;
        self.get_recurring(user, id).await
    }

    /// Resumes a paused recurring expense on `today`: the occurrences that fell due while it was
    /// paused are passed over (today's is made). Gives the rule and how many were passed over.
    #[tracing::instrument(skip_all, err)]
    pub async fn resume_recurring(
        &self,
        user: UserId,
        id: RecurringId,
        today: NaiveDate,
    ) -> Result<(RecurringRule, u32)> {
        let rule = self.get_recurring(user, id).await?;
        let mut passed = 0;
        if rule.paused {
            // Past what fell due before today: up to the first occurrence from today on, or
            // past the end when none is left.
            let resume_at = match rule.next_on {
                Some(next) if next < today => {
                    rule.schedule.index_on_or_after(today).unwrap_or_else(|| {
                        rule.schedule
                            .from_index(rule.next_index)
                            .take(1_000_000)
                            .last()
                            .map_or(rule.next_index, |(index, _)| index + 1)
                    })
                }
                _ => rule.next_index,
            };
            let resume_at = resume_at.max(rule.next_index);
            passed = resume_at - rule.next_index;
            let (next_index, next_on) = position(&rule.schedule, resume_at)?;
            with_db!(self, |pool, d| {
                sqlx::query(
                    "UPDATE recurring_rules SET paused = false, next_index = $3, next_on = $4, \
                     updated_at = $5 WHERE user_id = $1 AND id = $2 AND paused",
                )
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .bind(next_index)
                .bind(next_on)
                .bind(now())
                .execute(pool)
                .await?;
            });
        }
        Ok((self.get_recurring(user, id).await?, passed))
    }

    /// Skips one coming occurrence (`day` must be one the rule has not made yet).
    #[tracing::instrument(skip_all, err)]
    pub async fn skip_recurring(
        &self,
        user: UserId,
        id: RecurringId,
        day: NaiveDate,
    ) -> Result<RecurringRule> {
        let rule = self.get_recurring(user, id).await?;
        let coming = rule
            .schedule
            .index_of(day)
            .is_some_and(|index| index >= rule.next_index);
        if !coming {
            let next = rule.upcoming(3);
            let next = if next.is_empty() {
                "it has no coming occurrences".to_owned()
            } else {
                format!(
                    "the next are {}",
                    next.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(StoreError::Invalid(format!(
                "{day} is not one of its coming occurrences; {next}"
            )));
        }
        with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO recurring_skips (rule_id, occurs_on) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id.as_uuid())
            .bind(day)
            .execute(pool)
            .await?;
        });
        self.get_recurring(user, id).await
    }

    /// Takes back a skip: the occurrence on `day` will be made after all.
    #[tracing::instrument(skip_all, err)]
    pub async fn unskip_recurring(
        &self,
        user: UserId,
        id: RecurringId,
        day: NaiveDate,
    ) -> Result<RecurringRule> {
        let deleted = with_db!(self, |pool, d| {
            sqlx::query(
                "DELETE FROM recurring_skips WHERE occurs_on = $3 AND rule_id = \
                 (SELECT id FROM recurring_rules WHERE user_id = $1 AND id = $2)",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .bind(day)
            .execute(pool)
            .await?
            .rows_affected()
        });
        // Another user's rule is not found either way.
        let rule = self.get_recurring(user, id).await?;
        found(deleted, "skipped occurrence")?;
        Ok(rule)
    }

    /// The occurrences of the user's running (not paused) recurring expenses from `from` to `to`
    /// (both included) not yet made, skipped ones marked, by date.
    #[tracing::instrument(skip_all, err)]
    pub async fn upcoming_recurring(
        &self,
        user: UserId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Occurrence>> {
        let mut out = Vec::new();
        for rule in self.list_recurring(user).await? {
            if rule.paused || rule.next_on.is_none() {
                continue;
            }
            let days = rule
                .schedule
                .from_index(rule.next_index)
                .map(|(_, day)| day)
                .take_while(|day| *day <= to)
                .filter(|day| *day >= from)
                .take(MAX_UPCOMING_PER_RULE);
            for date in days {
                out.push(Occurrence {
                    rule_id: rule.id,
                    date,
                    vendor: rule.vendor.clone(),
                    amount: rule.amount,
                    category: rule.category.clone(),
                    skipped: rule.skips.contains(&date),
                });
            }
        }
        out.sort_by(|a, b| {
            a.date
                .cmp(&b.date)
                .then(a.vendor.as_str().cmp(b.vendor.as_str()))
        });
        Ok(out)
    }

    /// Makes the expenses every due recurring expense owes at `now` (each in its owner's time
    /// zone), at most `max_rules` rules' worth. Gives how many expenses were made. Safe to run
    /// from several processes at once: each occurrence is made once.
    #[tracing::instrument(skip_all, err)]
    pub async fn make_due_recurring(&self, now_at: DateTime<Utc>, max_rules: u32) -> Result<u64> {
        // Due somewhere on Earth: the furthest zone ahead is UTC+14.
        let horizon = (now_at + Duration::hours(14)).date_naive();
        let due: Vec<(Uuid, Uuid, String)> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT r.id, r.user_id, u.time_zone FROM recurring_rules r \
                 JOIN users u ON u.id = r.user_id \
                 WHERE NOT r.paused AND r.next_on IS NOT NULL AND r.next_on <= $1 \
                 ORDER BY r.next_on LIMIT $2",
            )
            .bind(horizon)
            .bind(i64::from(max_rules))
            .fetch_all(pool)
            .await?
        });
        let mut made = 0;
        for (id, user, zone) in due {
            let zone = UserTimeZone::parse(&zone).map_err(StoreError::corrupt)?;
            made += self
                .make_recurring(user.into(), id.into(), zone.local_date(now_at))
                .await?;
        }
        Ok(made)
    }

    /// Makes the expenses one recurring expense owes up to `today` (the owner's), if no one
    /// else is making them right now. Gives how many were made.
    #[tracing::instrument(skip_all, err)]
    pub async fn make_recurring(
        &self,
        user: UserId,
        id: RecurringId,
        today: NaiveDate,
    ) -> Result<u64> {
        let at = now();
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let row: Option<RuleRow> = sqlx::query_as(d.pick(
                concat!(
                    rule_select!(),
                    "WHERE r.user_id = $1 AND r.id = $2 AND NOT r.paused \
                     AND r.next_on IS NOT NULL AND r.next_on <= $3 FOR UPDATE OF r SKIP LOCKED"
                ),
                concat!(
                    rule_select!(),
                    "WHERE r.user_id = $1 AND r.id = $2 AND NOT r.paused \
                     AND r.next_on IS NOT NULL AND r.next_on <= $3"
                ),
            ))
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .bind(today)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Ok(0);
            };
            let schedule = row.schedule()?;
            let start = count(row.next_index, "next index")?;
            let skips: Vec<NaiveDate> = sqlx::query_scalar(
                "SELECT occurs_on FROM recurring_skips WHERE rule_id = $1 AND occurs_on <= $2",
            )
            .bind(row.id)
            .bind(today)
            .fetch_all(&mut *tx)
            .await?;
            let mut next = start;
            let mut made = 0;
            for (index, day) in schedule.from_index(start) {
                if day > today || index - start >= MAX_MADE_PER_PASS {
                    break;
                }
                next = index + 1;
                if skips.contains(&day) {
                    continue;
                }
                made += sqlx::query(
                    "INSERT INTO expenses (id, user_id, category_id, spent_on, vendor, \
                     amount_minor, currency, note, needs_review, created_at, updated_at, \
                     recurring_id, recurring_on) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9, $9, $10, $4) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(ExpenseId::new().as_uuid())
                .bind(row.user_id)
                .bind(row.category_id)
                .bind(day)
                .bind(&row.vendor)
                .bind(row.amount_minor)
                .bind(&row.currency)
                .bind(&row.note)
                .bind(at)
                .bind(row.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            let (next_index, next_on) = position(&schedule, next)?;
            sqlx::query(
                "UPDATE recurring_rules SET next_index = $2, next_on = $3, updated_at = $4 \
                 WHERE id = $1",
            )
            .bind(row.id)
            .bind(next_index)
            .bind(next_on)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            // Skips passed are done with.
            sqlx::query("DELETE FROM recurring_skips WHERE rule_id = $1 AND occurs_on < $2")
                .bind(row.id)
                .bind(next_on.unwrap_or(NaiveDate::MAX))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(made)
        })
    }
}
