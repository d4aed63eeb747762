//! The customer's chat window: the frame and header (`window`), the message list (`messages`),
//! the composer and the settings dialog, around the state they share (`state`).

mod composer;
mod messages;
mod settings;
mod state;
mod window;

pub use state::ChatState;
pub use window::ChatWindow;
