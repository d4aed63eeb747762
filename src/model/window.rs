//! The chat window's state that the server reads back: how the visitor left it.

use serde::{Deserialize, Serialize};

/// How the chat window was left (kept in the `fd_window` cookie so the server renders it the same
/// way). A first visit shows the launcher: the window is rendered (history, greeting) but hidden
/// until the visitor opens it, so it never covers the shop's page uninvited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum WindowMode {
    Open,
    Maximized,
    #[default]
    Minimized,
    Closed,
}

/// Read from its variant's name, as serde's derive writes it, with the string enums' one decoder.
impl<'de> Deserialize<'de> for WindowMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const NAMES: &[&str] = &["Open", "Maximized", "Minimized", "Closed"];
        super::variant_index(deserializer, NAMES).map(|i| WindowMode::ALL[i])
    }
}

impl WindowMode {
    pub const COOKIE: &'static str = "fd_window";
    pub const ALL: [WindowMode; 4] =
        [WindowMode::Open, WindowMode::Maximized, WindowMode::Minimized, WindowMode::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            WindowMode::Open => "open",
            WindowMode::Maximized => "maximized",
            WindowMode::Minimized => "minimized",
            WindowMode::Closed => "closed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        WindowMode::ALL.into_iter().find(|m| m.as_str() == value)
    }

    /// The window shows (as opposed to the launcher).
    pub fn is_visible(self) -> bool {
        matches!(self, WindowMode::Open | WindowMode::Maximized)
    }
}

#[cfg(test)]
mod tests {
    use super::WindowMode;

    #[test]
    fn a_window_mode_reads_back_as_written() {
        for mode in WindowMode::ALL {
            assert_eq!(serde_json::from_str::<WindowMode>(&serde_json::to_string(&mode).unwrap()).unwrap(), mode);
        }
        assert!(serde_json::from_str::<WindowMode>("\"open\"").is_err(), "the cookie's name is not the JSON's");
    }
}
