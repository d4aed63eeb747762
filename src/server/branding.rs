//! Branding: how the chat window looks (brand colour, title, subtitle, welcome text, launcher
//! side, the team's avatar or a logo) and when the team is in (business hours in a time zone,
//! read with `jiff` and its bundled time zone database). Admins change it; the window reads it
//! as it renders (its texts in the page, its colour, side and avatar in `/window/brand.css`), so
//! a change shows on the next page with nothing rebuilt or cached. Outside business hours the
//! window says when the team is back and a request for a person asks for an email. Owns
//! `window_settings`.

use super::{
    audit::{Action, Actor, Trail},
    db::{now_ms, Db},
    error::{AppError, AppResult},
    identity::Staff,
};
use crate::model::{
    contrast_with_white, is_hex_color, minutes_of, trim_spaces, BusinessHours, LauncherSide, WindowSettings,
    MIN_CONTRAST,
};

/// The largest avatar, in bytes.
pub const AVATAR_MAX_BYTES: usize = 256 * 1024;
/// The avatar's media types (sniffed from its first bytes, never taken on trust).
const AVATAR_TYPES: [(&[u8], &str); 4] = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
];

pub struct Branding {
    db: Db,
    audit: std::sync::Arc<dyn Trail>,
}

/// What the window shows, as it renders now.
#[derive(Debug, Clone)]
pub struct WindowLook {
    pub title: String,
    /// The subtitle, or when the team is out, when it is back.
    pub subtitle: String,
    pub welcome: String,
    /// When the team is out: when it is back, as a sentence.
    pub away: Option<String>,
}

type SettingsRow = (String, String, String, String, String, Option<String>, i64, i64);

/// Why settings cannot be saved, in words (422), or `None` when they can.
fn invalid(settings: &WindowSettings) -> Option<String> {
    let Some(ratio) = contrast_with_white(&settings.brand_color) else {
        return Some(format!("brand_color '{}' is not a colour as #rrggbb", settings.brand_color));
    };
    if ratio < MIN_CONTRAST {
        return Some(format!(
            "white text on {} has a contrast of {ratio:.2}:1, under the 4.5:1 WCAG AA asks for: choose a darker colour",
            settings.brand_color
        ));
    }
    let length = |text: &str, max: usize, what: &str, blank_ok: bool| {
        let n = text.chars().count();
        ((!blank_ok && trim_spaces(text).is_empty()) || n > max)
            .then(|| format!("the {what} must be {} to {max} characters", if blank_ok { 0 } else { 1 }))
    };
    if let Some(why) = length(&settings.title, 60, "title", false)
        .or_else(|| length(&settings.subtitle, 120, "subtitle", true))
        .or_else(|| length(&settings.welcome, 160, "welcome text", true))
    {
        return Some(why);
    }
    let hours = &settings.business_hours;
    if jiff::tz::TimeZone::get(&hours.time_zone).is_err() {
        return Some(format!("'{}' is no time zone this server knows (like Europe/Paris)", hours.time_zone));
    }
    if hours.days.len() != 7 {
        return Some("business_hours.days holds the seven days of the week, Monday first".into());
    }
    for (day, open) in hours.days.iter().enumerate() {
        let Some(open) = open else { continue };
        match (minutes_of(&open.open), minutes_of(&open.close)) {
            (Some(from), Some(to)) if from < to && from < 1440 => {}
            _ => {
                return Some(format!(
                    "{}: opening hours must be HH:MM to a later HH:MM, not {} to {}",
                    DAYS[day], open.open, open.close
                ))
            }
        }
    }
    None
}

/// What a save changes, for the audit log: `title, business_hours` (or `nothing`).
fn changed_fields(before: &WindowSettings, after: &WindowSettings) -> String {
    let fields = [
        ("brand_color", !before.brand_color.eq_ignore_ascii_case(&after.brand_color)),
        ("title", before.title != trim_spaces(&after.title)),
        ("subtitle", before.subtitle != trim_spaces(&after.subtitle)),
        ("welcome", before.welcome != trim_spaces(&after.welcome)),
        ("launcher", before.launcher != after.launcher),
        ("business_hours", before.business_hours != after.business_hours),
    ];
    let changed: Vec<&str> = fields.iter().filter(|(_, changed)| *changed).map(|(name, _)| *name).collect();
    if changed.is_empty() {
        "nothing".into()
    } else {
        changed.join(", ")
    }
}

const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// When the team is out at `now_ms`: the sentence that says when it is back (the next opening
/// within a week, in the hours' time zone). `None` when it is in, or hours are off.
pub fn away_until(hours: &BusinessHours, now_ms: i64) -> Option<String> {
    if !hours.enabled {
        return None;
    }
    let zone = jiff::tz::TimeZone::get(&hours.time_zone).ok()?;
    let now = jiff::Timestamp::from_millisecond(now_ms).ok()?.to_zoned(zone);
    let today = usize::from(now.weekday().to_monday_zero_offset() as u8);
    let minute = u32::try_from(i32::from(now.hour()) * 60 + i32::from(now.minute())).ok()?;
    let span = |day: usize| {
        let open = hours.days.get(day)?.as_ref()?;
        Some((minutes_of(&open.open)?, minutes_of(&open.close)?))
    };
    if span(today).is_some_and(|(from, to)| (from..to).contains(&minute)) {
        return None;
    }
    // The next opening: later today, or on one of the next seven days.
    for ahead in 0..8 {
        let day = (today + ahead) % 7;
        let Some((from, _)) = span(day) else { continue };
        if ahead == 0 && from <= minute {
            continue;
        }
        let when = match ahead {
            0 => "today".to_string(),
            1 => "tomorrow".to_string(),
            _ => DAYS[day].to_string(),
        };
        return Some(format!(
            "We're away now: back {when} at {:02}:{:02} ({} time).",
            from / 60,
            from % 60,
            hours.time_zone
        ));
    }
    Some("We're away now.".into())
}

/// The media type of an image from its first bytes, among the avatar's types.
fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    AVATAR_TYPES
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, kind)| *kind)
        .filter(|kind| *kind != "image/webp" || bytes.get(8..12) == Some(b"WEBP"))
}

impl Branding {
    pub fn new(db: Db, audit: std::sync::Arc<dyn Trail>) -> Self {
        Branding { db, audit }
    }

    /// The window's settings.
    pub async fn settings(&self) -> AppResult<WindowSettings> {
        Ok(self.settings_and_version().await?.0)
    }

    /// The window's settings and when they last changed (unix ms: the avatar's address version).
    async fn settings_and_version(&self) -> AppResult<(WindowSettings, i64)> {
        let (brand_color, title, subtitle, welcome, launcher, hours, has_avatar, updated): SettingsRow =
            sqlx::query_as(
                "SELECT brand_color, title, subtitle, welcome, launcher, business_hours, \
             CASE WHEN avatar IS NULL THEN 0 ELSE 1 END, updated_at FROM window_settings WHERE id = 1",
            )
            .fetch_one(&self.db.read)
            .await?;
        let defaults = WindowSettings::default();
        let business_hours =
            hours.and_then(|json| serde_json::from_str::<BusinessHours>(&json).ok()).unwrap_or(defaults.business_hours);
        let settings = WindowSettings {
            brand_color,
            title,
            subtitle,
            welcome,
            launcher: launcher.parse().unwrap_or(LauncherSide::Right),
            business_hours,
            avatar: has_avatar != 0,
        };
        Ok((settings, updated))
    }

    /// An admin changes the window (audited); refused with the reason (422) when a rule fails,
    /// and nothing changes then.
    pub async fn save(&self, admin: Staff, settings: &WindowSettings) -> AppResult<WindowSettings> {
        admin.require_admin()?;
        if let Some(why) = invalid(settings) {
            return Err(AppError::Invalid(why));
        }
        let hours = serde_json::to_string(&settings.business_hours).map_err(|e| AppError::Internal(e.to_string()))?;
        let before = self.settings().await?;
        let mut tx = self.db.write.begin().await?;
        sqlx::query(
            "UPDATE window_settings SET brand_color = $1, title = $2, subtitle = $3, welcome = $4, launcher = $5, \
             business_hours = $6, updated_at = $7 WHERE id = 1",
        )
        .bind(settings.brand_color.to_lowercase())
        .bind(trim_spaces(&settings.title))
        .bind(trim_spaces(&settings.subtitle))
        .bind(trim_spaces(&settings.welcome))
        .bind(settings.launcher.as_str())
        .bind(hours)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let detail = changed_fields(&before, settings);
        self.audit
            .record(&mut tx, Actor::Staff(admin.user_id), Action { name: "window.updated", chat_id: None, detail })
            .await?;
        tx.commit().await?;
        self.settings().await
    }

    /// An admin puts up the team's avatar (or a logo): PNG, JPEG, GIF or WebP, at most 256 KiB.
    pub async fn set_avatar(&self, admin: Staff, bytes: &[u8]) -> AppResult<()> {
        admin.require_admin()?;
        if bytes.len() > AVATAR_MAX_BYTES {
            return Err(AppError::TooLarge(format!("the avatar is {} KiB; at most 256 KiB", bytes.len() / 1024)));
        }
        let kind = sniff_image(bytes)
            .ok_or_else(|| AppError::Unsupported("the avatar must be a PNG, JPEG, GIF or WebP image".into()))?;
        let mut tx = self.db.write.begin().await?;
        sqlx::query("UPDATE window_settings SET avatar = $1, avatar_type = $2, updated_at = $3 WHERE id = 1")
            .bind(bytes.to_vec())
            .bind(kind)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let detail = format!("avatar {kind}, {} bytes", bytes.len());
        self.audit
            .record(&mut tx, Actor::Staff(admin.user_id), Action { name: "window.updated", chat_id: None, detail })
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An admin takes the avatar down.
    pub async fn remove_avatar(&self, admin: Staff) -> AppResult<()> {
        admin.require_admin()?;
        let mut tx = self.db.write.begin().await?;
        sqlx::query("UPDATE window_settings SET avatar = NULL, avatar_type = NULL, updated_at = $1 WHERE id = 1")
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let action = Action { name: "window.updated", chat_id: None, detail: "avatar removed".into() };
        self.audit.record(&mut tx, Actor::Staff(admin.user_id), action).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The avatar and its media type, when there is one.
    pub async fn avatar(&self) -> AppResult<Option<(Vec<u8>, String)>> {
        let row: Option<(Option<Vec<u8>>, Option<String>)> =
            sqlx::query_as("SELECT avatar, avatar_type FROM window_settings WHERE id = 1")
                .fetch_optional(&self.db.read)
                .await?;
        Ok(row.and_then(|(bytes, kind)| Some((bytes?, kind?))))
    }

    /// When the team is out now: when it is back, as a sentence.
    pub async fn away(&self) -> AppResult<Option<String>> {
        Ok(away_until(&self.settings().await?.business_hours, now_ms()))
    }

    /// What the window shows now (its texts; the team's hours).
    pub async fn look(&self) -> AppResult<WindowLook> {
        let settings = self.settings().await?;
        let away = away_until(&settings.business_hours, now_ms());
        Ok(WindowLook {
            subtitle: away.clone().unwrap_or(settings.subtitle),
            title: settings.title,
            welcome: settings.welcome,
            away,
        })
    }

    /// The window's style sheet of the moment: the brand colour (and a darker one for hover), the
    /// launcher's side, the avatar. Served at `/window/brand.css`.
    pub async fn style_sheet(&self) -> AppResult<String> {
        let (settings, updated) = self.settings_and_version().await?;
        Ok(style_sheet(&settings, updated))
    }
}

/// The style sheet for `settings` (see [`Branding::style_sheet`]); `version` makes the avatar's
/// address change with it.
fn style_sheet(settings: &WindowSettings, version: i64) -> String {
    let brand = if is_hex_color(&settings.brand_color) { settings.brand_color.as_str() } else { "#4f46e5" };
    let darker: String = (1..7)
        .step_by(2)
        .map(|i| u8::from_str_radix(&brand[i..i + 2], 16).unwrap_or(0))
        .map(|c| format!("{:02x}", (f64::from(c) * 0.85) as u8))
        .collect();
    let (near, far) = match settings.launcher {
        LauncherSide::Right => ("right", "left"),
        LauncherSide::Left => ("left", "right"),
    };
    let mut css = format!(
        ":root{{--fd-brand:{brand};--fd-brand-dark:#{darker};--fd-{near}:1.25rem;--fd-{far}:auto;\
         --fd-prompt-{near}:5.5rem;--fd-prompt-{far}:auto}}\n"
    );
    if settings.avatar {
        css.push_str(&format!(
            ".fd-avatar{{background:url(/window/avatar?v={version}) center/cover no-repeat}}.fd-avatar>svg{{visibility:hidden}}\n"
        ));
    }
    css
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OpeningHours;

    fn hours(days: Vec<Option<(&str, &str)>>) -> BusinessHours {
        BusinessHours {
            enabled: true,
            time_zone: "Europe/Paris".into(),
            days: days
                .into_iter()
                .map(|d| d.map(|(open, close)| OpeningHours { open: open.into(), close: close.into() }))
                .collect(),
        }
    }

    /// Unix ms of a wall-clock time in Paris.
    fn paris(at: &str) -> i64 {
        format!("{at}[Europe/Paris]").parse::<jiff::Zoned>().unwrap().timestamp().as_millisecond()
    }

    #[test]
    fn outside_business_hours_the_window_says_when_the_team_is_back() {
        let week = hours(vec![Some(("09:00", "17:00")); 5].into_iter().chain([None, None]).collect());
        // 2026-12-07 is a Monday.
        assert_eq!(away_until(&week, paris("2026-12-07T10:00")), None, "open");
        assert_eq!(
            away_until(&week, paris("2026-12-07T08:00")).as_deref(),
            Some("We're away now: back today at 09:00 (Europe/Paris time).")
        );
        assert_eq!(
            away_until(&week, paris("2026-12-07T17:00")).as_deref(),
            Some("We're away now: back tomorrow at 09:00 (Europe/Paris time).")
        );
        assert_eq!(
            away_until(&week, paris("2026-12-11T18:30")).as_deref(),
            Some("We're away now: back Monday at 09:00 (Europe/Paris time).")
        );
        assert_eq!(away_until(&BusinessHours { enabled: false, ..week.clone() }, paris("2026-12-12T03:00")), None);
        assert_eq!(away_until(&hours(vec![None; 7]), paris("2026-12-07T10:00")).as_deref(), Some("We're away now."));
    }

    #[test]
    fn settings_break_no_rule_or_say_which() {
        let fine = WindowSettings::default();
        assert_eq!(invalid(&fine), None);
        let pale = WindowSettings { brand_color: "#ffcc00".into(), ..fine.clone() };
        assert!(invalid(&pale).unwrap().contains("4.5:1"), "{:?}", invalid(&pale));
        let nowhere = WindowSettings {
            business_hours: BusinessHours { time_zone: "Mars/Olympus".into(), ..fine.business_hours.clone() },
            ..fine.clone()
        };
        assert!(invalid(&nowhere).unwrap().contains("Mars/Olympus"));
        let backwards = WindowSettings { business_hours: hours(vec![Some(("17:00", "09:00")); 7]), ..fine.clone() };
        assert!(invalid(&backwards).unwrap().starts_with("Monday"));
        let blank = WindowSettings { title: "  ".into(), ..fine };
        assert!(invalid(&blank).unwrap().contains("title"));
    }

    #[test]
    fn an_avatar_is_known_by_its_first_bytes() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_image(b"RIFF1234WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"RIFF1234WAVEfmt "), None);
        assert_eq!(sniff_image(b"<svg xmlns="), None, "no SVG: it can carry scripts");
    }

    #[test]
    fn the_style_sheet_carries_the_colour_the_side_and_the_avatar() {
        let left = WindowSettings { launcher: LauncherSide::Left, avatar: true, ..WindowSettings::default() };
        let css = style_sheet(&left, 7);
        assert!(css.contains("--fd-brand:#4f46e5;--fd-brand-dark:#433bc2"), "{css}");
        assert!(css.contains("--fd-left:1.25rem;--fd-right:auto"), "{css}");
        assert!(css.contains("/window/avatar?v=7"), "{css}");
        assert!(!style_sheet(&WindowSettings::default(), 7).contains("fd-avatar"));
    }
}
