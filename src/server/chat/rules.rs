//! The small rules every adapter relies on, checked in one place: message text, titles, client
//! ids and read marks.

use crate::{
    model::CLIENT_ID_MAX_LEN,
    server::error::{AppError, AppResult},
};

/// Message text: not blank, at most `max` characters.
pub fn check_content(content: &str, max: usize) -> AppResult<()> {
    if crate::model::trim_spaces(content).is_empty() {
        return Err(AppError::Invalid("the message is empty".into()));
    }
    let len = content.chars().count();
    if len > max {
        return Err(AppError::TooLong { what: "message", len, max });
    }
    Ok(())
}

/// A client's id for a send: 1 to 64 visible ASCII characters.
pub fn check_client_id(client_id: &str) -> AppResult<()> {
    if client_id.is_empty() || client_id.len() > CLIENT_ID_MAX_LEN || !client_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::Invalid(format!(
            "client_id must be 1 to {CLIENT_ID_MAX_LEN} visible ASCII characters (a UUID fits)"
        )));
    }
    Ok(())
}

/// A chat title: not blank, at most 120 characters; trimmed.
pub fn check_title(title: &str) -> AppResult<&str> {
    if title.chars().count() > 120 {
        return Err(AppError::Invalid("the title must be at most 120 characters".into()));
    }
    match crate::model::trim_spaces(title) {
        "" => Err(AppError::Invalid("the title must not be empty".into())),
        t => Ok(t),
    }
}

/// A new chat's title from its first message: the first line, cut at sixty characters.
pub fn title_from(content: &str) -> String {
    let line = content.trim().lines().next().unwrap_or_default();
    let mut title: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        title.push('…');
    }
    title
}

/// Where a client resumes a chat's events: after a sequence number, never a negative one.
pub fn check_resume(after: Option<i64>) -> AppResult<Option<i64>> {
    match after {
        Some(after) if after < 0 => Err(AppError::Invalid("the sequence number must not be negative".into())),
        after => Ok(after),
    }
}

/// Where a read or delivery mark stands: a message id, parsed once (the REST body is
/// `http::rest::ReadUpTo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkPosition(i64);

impl MarkPosition {
    pub fn new(message_id: i64) -> AppResult<MarkPosition> {
        if message_id < 0 {
            return Err(AppError::Invalid("up_to is a message id".into()));
        }
        Ok(MarkPosition(message_id))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_means_what_the_specs_not_space_pattern_says() {
        assert!(check_content(" \t\u{a0}\u{3000}\n", 100).is_err(), "spaces of every kind are blank");
        // U+0085 is no space to `\S` (ECMAScript), though Rust's trim counts it as one.
        assert!(check_content("\u{85}", 100).is_ok());
        assert_eq!(check_title(" \u{2003}Hi\u{feff} ").unwrap(), "Hi");
    }

    #[test]
    fn a_title_is_the_first_line_cut_at_sixty_characters() {
        assert_eq!(title_from("  Hello there\nsecond line"), "Hello there");
        let long = "x".repeat(80);
        assert_eq!(title_from(&long).chars().count(), 61);
    }

    #[test]
    fn client_ids_are_short_visible_ascii() {
        assert!(check_client_id("0b5f3c1e-8a1d-4c7e-9f00-1b2c3d4e5f60").is_ok());
        assert!(check_client_id("").is_err());
        assert!(check_client_id("has space").is_err());
        assert!(check_client_id(&"x".repeat(65)).is_err());
    }

    #[test]
    fn a_read_mark_is_a_message_id() {
        assert_eq!(MarkPosition::new(7).unwrap().get(), 7);
        assert!(MarkPosition::new(-1).is_err());
    }
}
