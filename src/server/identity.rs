//! Who is asking: a visitor ([`Caller`], who owns their chats), a member of staff ([`Staff`],
//! with a role), or whoever writes the shop's knowledge ([`Editor`]: staff, or an API key). Every
//! domain takes these; `accounts` says who a session or a key is, and the adapters hand them over.

use super::error::{AppError, AppResult};
pub use crate::model::StaffRole;

/// Who is asking on the customer's side. Visitors own their chats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    /// The network the request came from (IPv4 address or IPv6 /64), when known: allowances
    /// count per network too, so a new cookie is not a new allowance.
    pub network: Option<std::net::IpAddr>,
}

impl Caller {
    /// A reader without a session: owns no chats and has default preferences. Reads answer them
    /// without creating a visitor (user ids start at 1, so no row is theirs).
    pub fn nobody(network: Option<std::net::IpAddr>) -> Self {
        Caller { user_id: 0, network }
    }

    pub fn is_nobody(&self) -> bool {
        self.user_id == 0
    }
}

/// A member of staff, signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staff {
    pub user_id: i64,
    pub role: StaffRole,
}

impl Staff {
    /// Admins only: agents work conversations; admins manage the team and read the audit log.
    pub fn require_admin(self) -> AppResult<()> {
        if self.role == StaffRole::Admin {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Staff write the shop's catalog and knowledge as themselves.
    pub fn editor(self) -> Editor {
        Editor { user_id: self.user_id, key_id: None }
    }
}

/// Who writes the shop's catalog and knowledge: a member of staff signed in, or an integration
/// with an API key (whose admin answers for it in the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Editor {
    /// The staff member, or the admin who created the key.
    pub user_id: i64,
    /// The API key used, if any.
    pub key_id: Option<i64>,
}

impl Editor {
    /// How the audit log names the way the change came: `` or ` (API key 3)`.
    pub fn via(self) -> String {
        self.key_id.map(|id| format!(" (API key {id})")).unwrap_or_default()
    }
}
