//! Satisfaction: the customer's rating of a resolved conversation and thumbs on the assistant's
//! replies, from the customer and from staff.

use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use utoipa::ToSchema;

/// The longest comment a rating carries, in characters.
pub const RATING_COMMENT_MAX_CHARS: usize = 1000;
/// How long a rating can be changed after it was given, in days.
pub const RATING_CHANGEABLE_DAYS: i64 = 7;

/// A rating as the customer gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    /// 1 (very bad) to 5 (very good); anything else is refused with 422.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 5))]
    pub score: i64,
    /// Optional, at most 1000 characters (spaces around it are dropped). Left out when changing
    /// the score, the comment given before stays; an empty one removes it.
    #[cfg_attr(feature = "ssr", schema(max_length = 1000))]
    #[serde(default)]
    pub comment: Option<String>,
}

/// The customer's rating of a conversation's latest resolution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Rating {
    pub chat_id: i64,
    /// 1 to 5.
    pub score: i64,
    pub comment: Option<String>,
    /// When the resolution rated happened (RFC 3339).
    pub resolved_at: String,
    pub rated_at: String,
    /// Until when it can be changed (7 days after it was first given).
    pub changeable_until: String,
}

/// A thumb on an assistant's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ThumbInput {
    /// Up (`true`): the reply helped; down (`false`): it did not, or it was wrong.
    pub helpful: bool,
}

/// The customer's thumb on one of the assistant's replies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CustomerThumb {
    pub message_id: i64,
    /// Up (`true`) or down.
    pub helpful: bool,
}

/// The thumbs on one of the assistant's replies, for staff. A thumb given before the reply was
/// written again (retried, or its question edited) no longer counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ReplyThumbs {
    pub message_id: i64,
    /// The customer's thumb (none: not given).
    pub customer: Option<bool>,
    /// Staff's thumb, as the last member to mark it gave it (never shown to the customer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_name: Option<String>,
}

/// What a conversation's customer thought, for staff: their ratings (newest first) and the
/// thumbs on the assistant's replies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Satisfaction {
    pub ratings: Vec<Rating>,
    pub replies: Vec<ReplyThumbs>,
}
