//! Tests of the AWS layer that need more than the emulator: the waiters and retries, against
//! AWS's own answers replayed.

mod settings;
mod ssh_port;
mod waits;
