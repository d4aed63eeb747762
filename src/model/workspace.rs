//! The team's workspace: private notes on a conversation, and the staff-only frames the panel's
//! feed carries besides conversation changes.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use utoipa::ToSchema;

/// The longest note, in characters.
pub const NOTE_MAX_CHARS: usize = 4000;

/// A private note: staff write it on a conversation for each other. It is never sent to the
/// customer (window, socket, SSE, API), never given to the assistant, never emailed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Note {
    pub id: i64,
    pub chat_id: i64,
    /// Who wrote it; none once their account is gone.
    pub author_id: Option<i64>,
    /// Their name as it is now.
    pub author: String,
    pub content: String,
    /// The staff members `@name` in it mentions: they are notified.
    pub mentions: Vec<i64>,
    /// The conversation's newest message when it was written (0: none): where it sits in the
    /// history.
    pub after_message_id: i64,
    pub created_at: String,
}

/// A new note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// Not blank, at most 4,000 characters. `@name` (a member's display name, or the part of
    /// their email before the @) notifies them.
    #[cfg_attr(feature = "ssr", schema(pattern = r"\S", max_length = 4000))]
    pub content: String,
}

/// A label staff put on conversations (admins create them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Label {
    pub id: i64,
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
}

/// A label as an admin writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LabelInput {
    /// 1 to 40 characters (kept without the spaces around it); one label per name, in any case.
    #[cfg_attr(feature = "ssr", schema(pattern = r"\S", max_length = 40))]
    pub name: String,
    /// A colour as `#rrggbb`.
    #[cfg_attr(feature = "ssr", schema(pattern = "^#[0-9a-fA-F]{6}$"))]
    pub color: String,
}

/// The labels of a conversation, all at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChatLabels {
    /// Ids of existing labels (at most 20; an unknown one is refused with 404).
    #[cfg_attr(feature = "ssr", schema(max_items = 20))]
    pub label_ids: Vec<i64>,
}

/// Whether `color` is a colour as `#rrggbb`.
pub fn is_hex_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A staff-only frame of the panel's feed (`/api/v1/admin/ws`), beside conversation changes:
/// `{"type": "note.created", "data": Note}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(tag = "type", content = "data")]
pub enum TeamEvent {
    #[serde(rename = "note.created")]
    NoteCreated(Note),
    /// A note too long to carry between replicas whole: panels showing its conversation read
    /// its notes again.
    #[serde(rename = "note.written")]
    NoteWritten { chat_id: i64, note_id: i64, mentions: Vec<i64> },
    /// An admin created, changed or deleted a label: panels read the labels (and their list)
    /// again.
    #[serde(rename = "labels.changed")]
    LabelsChanged,
    /// A member went online, away or offline (their panel opened or closed).
    #[serde(rename = "presence.changed")]
    Presence(Presence),
}

string_enum!(
    /// What a member says of themselves: `online` (conversations may be given to them while a
    /// panel of theirs is open) or `away`.
    Availability { Online => "online", Away => "away" }
);

/// Whether a member is on duty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Presence {
    pub user_id: i64,
    /// What they said: `online` or `away`.
    pub availability: String,
    /// `availability` is `online` and a panel of theirs is open.
    pub online: bool,
}

/// A member's choice of availability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AvailabilityInput {
    pub availability: Availability,
}

/// Auto-assignment: off by default. When on, each conversation waiting for a person and
/// unassigned goes to the online member whose turn it is (round-robin) among those with fewer
/// than `max_open_per_member` open conversations (pending or in progress); when nobody is
/// online or everyone is full, it waits and is given as soon as someone is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssignmentSettings {
    pub auto_assign: bool,
    /// 1 to 100.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100))]
    pub max_open_per_member: i64,
}

impl Default for AssignmentSettings {
    fn default() -> Self {
        AssignmentSettings { auto_assign: false, max_open_per_member: 10 }
    }
}

/// The most open conversations auto-assignment may give one member.
pub const MAX_OPEN_PER_MEMBER: i64 = 100;

impl TeamEvent {
    /// For a note: the conversation it is on and the members it mentions.
    pub fn note_of(&self) -> Option<(i64, &[i64])> {
        match self {
            TeamEvent::NoteCreated(note) => Some((note.chat_id, &note.mentions)),
            TeamEvent::NoteWritten { chat_id, mentions, .. } => Some((*chat_id, mentions)),
            TeamEvent::LabelsChanged | TeamEvent::Presence(_) => None,
        }
    }
}

/// Where each `@mention` of `text` names one of `members` (`(id, display name, email)`): a
/// display name (the longest that fits, any case) or the part of an email before the @, ending
/// at a character that is not a letter or digit. Each member once, in the order first named.
pub fn mentions<'a>(text: &str, members: impl IntoIterator<Item = (i64, &'a str, &'a str)> + Clone) -> Vec<i64> {
    let mut found = Vec::new();
    let lower = text.to_lowercase();
    for (at, _) in lower.match_indices('@') {
        // An address written in the note (sam@example.com) is no mention.
        if lower[..at].chars().next_back().is_some_and(char::is_alphanumeric) {
            continue;
        }
        let rest = &lower[at + 1..];
        let mut best: Option<(usize, i64)> = None;
        for (id, name, email) in members.clone() {
            let local = email.split('@').next().unwrap_or_default();
            for handle in [name.to_lowercase(), local.to_lowercase()] {
                let ends_cleanly = rest
                    .get(handle.len()..)
                    .is_some_and(|after| after.chars().next().is_none_or(|c| !c.is_alphanumeric()));
                if !handle.is_empty()
                    && rest.starts_with(&handle)
                    && ends_cleanly
                    && best.is_none_or(|(len, _)| handle.len() > len)
                {
                    best = Some((handle.len(), id));
                }
            }
        }
        if let Some((_, id)) = best.filter(|(_, id)| !found.contains(id)) {
            found.push(id);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_text_reads_on_dark_brand_colours_only() {
        let ratio = |c| contrast_with_white(c).unwrap();
        assert!((ratio("#000000") - 21.0).abs() < 0.01);
        assert!((ratio("#ffffff") - 1.0).abs() < 0.01);
        assert!(ratio("#4f46e5") >= MIN_CONTRAST, "the default brand colour passes");
        assert!(ratio("#767676") >= MIN_CONTRAST && ratio("#777777") < MIN_CONTRAST, "AA's edge is #767676");
        assert!(ratio("#ffcc00") < MIN_CONTRAST);
        assert_eq!(contrast_with_white("red"), None);
    }

    #[test]
    fn a_clock_reads_as_minutes() {
        assert_eq!(minutes_of("09:30"), Some(570));
        assert_eq!(minutes_of("24:00"), Some(1440));
        for bad in ["9:30", "24:01", "12:60", "ab:cd", "", "+9:00", "09:+5"] {
            assert_eq!(minutes_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_time_zone_is_an_iana_name() {
        for good in ["Europe/Paris", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+3", "America/Port-au-Prince"] {
            assert!(is_time_zone(good), "{good}");
        }
        for bad in
            ["", "/Paris", "Europe//Paris", "Europe/Paris/x/y", "3/x", "Europe/Par is", "<script>", &"A".repeat(65)]
        {
            assert!(!is_time_zone(bad), "{bad}");
        }
    }

    #[test]
    fn only_rrggbb_is_a_colour() {
        assert!(is_hex_color("#1a2B3c"));
        for bad in ["1a2b3c", "#1a2b3", "#1a2b3cc", "#gggggg", "red", "", "#ééé"] {
            assert!(!is_hex_color(bad), "{bad}");
        }
    }

    #[test]
    fn a_mention_names_a_member_by_name_or_email_and_an_address_is_no_mention() {
        let team = [(1, "Alice", "alice@shop.test"), (2, "Alice Moreau", "am@shop.test"), (3, "Bo", "bo@shop.test")];
        assert_eq!(mentions("@alice moreau can you check?", team), vec![2], "the longest name that fits");
        assert_eq!(mentions("@Alice, and @bo.", team), vec![1, 3]);
        assert_eq!(mentions("ask @am about it", team), vec![2], "the email's first part");
        assert_eq!(mentions("mail sam@bo or @bob", team), Vec::<i64>::new());
        assert_eq!(mentions("@bo @bo", team), vec![3], "each member once");
    }
}

/// What the panel shows beside a conversation: who the customer is and what they did before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CustomerProfile {
    /// The visitor's id (every conversation of theirs has it as `owner_id`).
    pub customer_id: i64,
    /// The email they left (in this conversation, or else their newest one).
    pub email: Option<String>,
    /// When they first came (RFC 3339).
    pub first_seen: String,
    /// Their conversations, newest activity first (at most 20), this one among them.
    pub conversations: Vec<CustomerConversation>,
    /// Products their conversations were about (at most 20).
    pub products: Vec<CustomerProduct>,
    /// Pages of the shop their conversations began on, newest first (at most 10).
    pub pages: Vec<crate::model::Page>,
    /// Tokens the assistant spent on them, in all their conversations.
    pub tokens_used: i64,
    /// Their browser, e.g. `Chrome 131.0`, read from the User-Agent that started this
    /// conversation (or their newest one that has it).
    pub browser: Option<String>,
    /// Their system, e.g. `Mac OSX 10.15.7`.
    pub system: Option<String>,
    /// Their time zone, e.g. `Europe/Paris`, when their browser said it (the embedded window).
    pub time_zone: Option<String>,
}

/// One of a customer's conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CustomerConversation {
    pub id: i64,
    pub title: String,
    /// As `Chat.status`.
    pub status: String,
    pub last_activity_at: String,
}

/// A product a customer asked about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CustomerProduct {
    /// The shop's id for it.
    pub id: String,
    /// Its name, when it is still in the catalog.
    pub name: Option<String>,
}

string_enum!(
    /// Which side of the page the closed window's launcher sits on.
    LauncherSide { Right => "right", Left => "left" }
);

/// How the chat window looks and when the team is in (Settings → Window). The window reads it at
/// render: a change shows on the next page, with nothing rebuilt or cached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WindowSettings {
    /// `#rrggbb`: the header, the launcher and the buttons, under white text, so it must be dark
    /// enough for that text to read (WCAG AA, 4.5:1; refused with 422 and the ratio otherwise).
    #[cfg_attr(feature = "ssr", schema(pattern = "^#[0-9a-fA-F]{6}$"))]
    pub brand_color: String,
    /// The window's title: not blank, at most 60 characters.
    #[cfg_attr(feature = "ssr", schema(pattern = r"\S", max_length = 60))]
    pub title: String,
    /// Under the title, at most 120 characters (empty: the topic's description).
    #[cfg_attr(feature = "ssr", schema(max_length = 120))]
    pub subtitle: String,
    /// Beside the closed window's launcher, at most 160 characters (empty: nothing, or "Ask about
    /// this product" on a product page).
    #[cfg_attr(feature = "ssr", schema(max_length = 160))]
    pub welcome: String,
    /// `right` or `left`.
    pub launcher: LauncherSide,
    pub business_hours: BusinessHours,
    /// Whether the team's avatar (or a logo) is uploaded (`PUT /api/v1/admin/settings/window/avatar`);
    /// ignored when saving.
    #[serde(default)]
    pub avatar: bool,
}

/// When the team answers. Outside these hours the window says when the team is back, the
/// assistant still answers, and asking for a person asks for an email so the team can answer
/// later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// Off: the team is always in.
    pub enabled: bool,
    /// An IANA time zone, e.g. `Europe/Paris` (422 for one that does not exist).
    #[cfg_attr(
        feature = "ssr",
        schema(max_length = 64, pattern = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
    )]
    pub time_zone: String,
    /// Monday first, seven days: each closed (`null`) or open from `open` to `close`.
    #[cfg_attr(feature = "ssr", schema(min_items = 7, max_items = 7))]
    pub days: Vec<Option<OpeningHours>>,
}

/// A day's opening hours, in the business hours' time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// `HH:MM`, 24-hour.
    #[cfg_attr(feature = "ssr", schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub open: String,
    /// `HH:MM` after `open` (422 otherwise); `24:00` for midnight.
    #[cfg_attr(feature = "ssr", schema(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"))]
    pub close: String,
}

impl Default for WindowSettings {
    fn default() -> Self {
        let weekday = || Some(OpeningHours { open: "09:00".into(), close: "17:00".into() });
        WindowSettings {
            brand_color: "#4f46e5".into(),
            title: "Hi there! 👋".into(),
            subtitle: String::new(),
            welcome: String::new(),
            launcher: LauncherSide::Right,
            business_hours: BusinessHours {
                enabled: false,
                time_zone: "UTC".into(),
                days: vec![weekday(), weekday(), weekday(), weekday(), weekday(), None, None],
            },
            avatar: false,
        }
    }
}

/// Minutes since midnight of an `HH:MM` (`24:00` is 1440), or `None` for anything else.
pub fn minutes_of(clock: &str) -> Option<u32> {
    let (h, m) = clock.split_once(':')?;
    let digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// How well white text reads on `#rrggbb` (WCAG 2 contrast ratio, 1 to 21), or `None` when it
/// is not a colour.
pub fn contrast_with_white(color: &str) -> Option<f64> {
    if !is_hex_color(color) {
        return None;
    }
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&color[i..i + 2], 16).ok()?) / 255.0;
        Some(if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) })
    };
    let luminance = 0.2126 * channel(1)? + 0.7152 * channel(3)? + 0.0722 * channel(5)?;
    Some(1.05 / (luminance + 0.05))
}

/// WCAG AA for normal text.
pub const MIN_CONTRAST: f64 = 4.5;

/// Whether `zone` looks like an IANA time zone name (`Europe/Paris`, `UTC`,
/// `America/Argentina/Buenos_Aires`, `Etc/GMT+3`), at most 64 characters.
pub fn is_time_zone(zone: &str) -> bool {
    let part =
        |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'));
    zone.len() <= 64
        && zone.split('/').count() <= 3
        && zone.split('/').all(part)
        && zone.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
}
