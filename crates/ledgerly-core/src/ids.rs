//! Typed identifiers. Every row is keyed by a UUIDv7 (time-ordered, so new rows land at the end of
//! the index) and each kind of id is its own type, so a receipt id can never be passed as a user id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A person with an account.
    UserId
);
id_type!(
    /// A login session.
    SessionId
);
id_type!(
    /// A personal API token.
    ApiTokenId
);
id_type!(
    /// An invite to register.
    InviteId
);
id_type!(
    /// A category, default or user-defined.
    CategoryId
);
id_type!(
    /// An expense.
    ExpenseId
);
id_type!(
    /// An uploaded receipt image or PDF.
    ReceiptId
);
id_type!(
    /// An OCR job in the queue.
    JobId
);
id_type!(
    /// A tag of one user's.
    TagId
);
id_type!(
    /// A recurring expense's rule.
    RecurringId
);
id_type!(
    /// A CSV file uploaded for import, waiting for its owner to commit it.
    ImportId
);
id_type!(
    /// One claim of a job by a worker: completing or failing a job needs the claim that holds it,
    /// so a worker whose lease ran out cannot overwrite the work of the worker that took over.
    ClaimId
);
