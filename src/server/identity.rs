//! Who is asking: a visitor ([`Caller`], who owns their chats) or a member of staff ([`Staff`],
//! with a role). Every domain takes these; `accounts` says who a session is, and the adapters
//! hand them over.

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
}
