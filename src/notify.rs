//! Telling the admins: a message to a Mattermost (Slack-compatible) incoming webhook when an
//! unattended upgrade upgrades, holds back, fails or rolls back. A notification that cannot be
//! delivered is a warning, never a failure of the operation it reports on.

use crate::fetch::HttpClient;
use crate::report::Reporter;

/// Post `text` to `webhook_url` if one is configured.
pub fn notify(client: &HttpClient, webhook_url: &str, text: &str, reporter: &dyn Reporter) {
    if webhook_url.is_empty() {
        return;
    }
    let host = hostname();
    let body = serde_json::json!({
        "username": "mm-install",
        "text": format!("**{host}**: {text}"),
    });
    match client.post_json(webhook_url, &body) {
        Ok(()) => reporter.step("notified the webhook"),
        Err(err) => reporter.warn(&format!("could not notify the webhook: {err}")),
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "this server".into())
}
