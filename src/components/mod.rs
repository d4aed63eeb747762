//! The components of both audiences: the customer's chat window (`chat`), the staff panel
//! (`panel`), the conversation feed both show (`feed`), the live connection both follow (`live`),
//! the browser glue they call (`browser`; on the server it compiles to nothing) and the window's
//! server function client (`client`). The panel is compiled only with the `panel` feature: the
//! server and the panel's bundle, not the customer's.

pub mod browser;
pub mod chat;
pub mod client;
pub mod feed;
pub mod icons;
pub mod live;
#[cfg(feature = "panel")]
pub mod panel;

pub use chat::{ChatState, ChatWindow};
