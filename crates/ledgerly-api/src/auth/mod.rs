//! Authentication: argon2id password hashes, opaque session tokens stored hashed, and the
//! login rate limiter.

pub mod csrf;
pub mod limiter;
pub mod password;
pub mod token;
