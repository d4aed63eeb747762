//! The components of both audiences: the customer's chat window (`chat`), the staff panel
//! (`panel`), the conversation feed both show (`feed`), the live connection both follow (`live`),
//! and the browser glue they call (`browser`; on the server it compiles to nothing).

pub mod browser;
pub mod chat;
pub mod feed;
pub mod icons;
pub mod live;
pub mod panel;

pub use chat::{ChatState, ChatWindow};
