//! `send-email`: composes the "new sign-in" email from the recorded login (the `record-login`
//! step's output) and logs it; the composed email is the pipeline's result, published to
//! `respondTo`. (A real app would hand it to a mail API through the `http` capability.)

use karman_sdk::{RunErr, Runnable, log, req};

struct SendEmail;

impl Runnable for SendEmail {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let recorded = req::state_text("record-login")
            .ok_or_else(|| RunErr::new(500, "no `record-login` in the state"))?;
        let login: serde_json::Value = serde_json::from_str(&recorded)
            .map_err(|e| RunErr::new(500, format!("`record-login` is not JSON: {e}")))?;
        let user = login["user"].as_str().unwrap_or_default();
        let Some(email) = login["email"].as_str().filter(|e| e.contains('@')) else {
            return Err(RunErr::new(400, format!("no email address for `{user}`")));
        };
        let subject = match login["logins"].as_u64() {
            Some(1) => "Welcome! This was your first sign-in".to_string(),
            Some(n) => format!("New sign-in to your account (sign-in #{n})"),
            None => "New sign-in to your account".to_string(),
        };
        log::info(&format!("email to {email}: {subject}"));
        let sent = serde_json::json!({ "user": user, "to": email, "subject": subject });
        Ok(sent.to_string().into_bytes())
    }
}

karman_sdk::export!(SendEmail);
