//! Email, through the SMTP server of `smtp.*`: the password reset link. Without `smtp.host` no
//! email is sent at all, and the administrator makes reset links instead.

use std::time::Duration;

use anyhow::Context as _;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;

use crate::settings::{SmtpSecurity, SmtpSettings};

/// `Name <address>` or a bare address, as `smtp.from` is written.
pub fn mailbox(text: &str) -> anyhow::Result<Mailbox> {
    text.trim()
        .parse::<Mailbox>()
        .with_context(|| format!("`{text}` is not an email address"))
}

/// What sends the server's emails.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

impl Mailer {
    /// The mailer `settings` describe; `None` when they name no SMTP server. Nothing is
    /// connected to until an email is sent.
    pub fn new(settings: &SmtpSettings) -> anyhow::Result<Option<Mailer>> {
        let host = settings.host.trim();
        if host.is_empty() {
            return Ok(None);
        }
        let from = mailbox(&settings.from).context("smtp.from")?;
        let builder = match settings.security {
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .with_context(|| format!("smtp.host `{host}`"))?,
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .with_context(|| format!("smtp.host `{host}`"))?,
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(Duration::from_secs(settings.timeout_seconds.get())));
        if !settings.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.username.clone(),
                settings.password.expose_secret().to_owned(),
            ));
        }
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
        }))
    }

    /// Sends a plain-text email to `to`.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(mailbox(to)?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .context("making the email")?;
        self.transport
            .send(message)
            .await
            .context("sending the email through smtp.host")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_is_an_address_with_or_without_a_name() {
        assert!(mailbox("ledgerly@example.com").is_ok());
        assert_eq!(
            mailbox("Ledgerly <ledgerly@example.com>")
                .unwrap()
                .name
                .as_deref(),
            Some("Ledgerly")
        );
        assert!(mailbox("").is_err());
        assert!(mailbox("not an address").is_err());
    }

    #[test]
    fn no_host_is_no_mailer_and_a_bad_sender_is_refused() {
        assert!(Mailer::new(&SmtpSettings::default()).unwrap().is_none());
        let settings = SmtpSettings {
            host: "smtp.example.com".into(),
            from: "nobody".into(),
            ..SmtpSettings::default()
        };
        let err = Mailer::new(&settings).unwrap_err();
        assert!(format!("{err:#}").contains("smtp.from"), "{err:#}");
    }
}
