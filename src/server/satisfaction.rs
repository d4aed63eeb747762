//! Satisfaction: after a conversation is resolved the customer rates it (1 to 5, with an optional
//! comment; one rating per resolution, changeable for 7 days), and thumbs go up or down on the
//! assistant's replies, from the customer (in the window) and from staff (in the panel, to mark a
//! wrong answer). Reads the conversation's owner, status and latest resolution from `chats` and a
//! reply's author from `messages`; owns `chat_ratings` and `reply_feedback`.

use super::{
    db::{now_ms, rfc3339, Db},
    error::{AppError, AppResult},
    identity::{Caller, Staff},
};
use crate::model::{
    trim_spaces, CustomerThumb, Rating, RatingInput, ReplyThumbs, Satisfaction, RATING_CHANGEABLE_DAYS,
    RATING_COMMENT_MAX_CHARS,
};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub struct Satisfactions {
    db: Db,
}

/// Who gives a thumb: the conversation's customer, or a member of staff.
#[derive(Debug, Clone, Copy)]
pub enum Rater {
    Customer(Caller),
    Staff(Staff),
}

type RatingRow = (i64, i64, Option<String>, i64, i64);

fn into_rating((chat_id, score, comment, resolved_at, created_at): RatingRow) -> Rating {
    Rating {
        chat_id,
        score,
        comment,
        resolved_at: rfc3339(resolved_at),
        rated_at: rfc3339(created_at),
        changeable_until: rfc3339(created_at + RATING_CHANGEABLE_DAYS * DAY_MS),
    }
}

/// The input's score and comment (`None`: none sent, keep the one before; `Some(None)`: an
/// empty one, remove it), or a 422 that says what is wrong.
fn checked(input: &RatingInput) -> AppResult<(i64, Option<Option<String>>)> {
    if !(1..=5).contains(&input.score) {
        return Err(AppError::Invalid(format!("the score is 1 to 5, not {}", input.score)));
    }
    let comment = input.comment.as_deref().map(trim_spaces);
    if let Some(comment) = comment {
        let len = comment.chars().count();
        if len > RATING_COMMENT_MAX_CHARS {
            return Err(AppError::Invalid(format!(
                "the comment is {len} characters long; the limit is {RATING_COMMENT_MAX_CHARS}"
            )));
        }
    }
    Ok((input.score, comment.map(|c| Some(c.to_string()).filter(|c| !c.is_empty()))))
}

/// The latest resolution of the caller's conversation, read on `conn` (`None`: never resolved);
/// 404 when the conversation is not theirs.
async fn resolution_in(conn: &mut sqlx::AnyConnection, caller: Caller, chat_id: i64) -> AppResult<Option<i64>> {
    let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT resolved_at FROM chats WHERE id = $1 AND owner_id = $2")
        .bind(chat_id)
        .bind(caller.user_id)
        .fetch_optional(conn)
        .await?;
    row.map(|(at,)| at).ok_or(AppError::not_found("chat"))
}

impl Satisfactions {
    pub fn new(db: Db) -> Self {
        Satisfactions { db }
    }

    /// The latest resolution of the caller's conversation (`None`: never resolved); 404 when the
    /// conversation is not theirs.
    async fn resolution(&self, caller: Caller, chat_id: i64) -> AppResult<Option<i64>> {
        let mut conn = self.db.read.acquire().await?;
        resolution_in(&mut conn, caller, chat_id).await
    }

    /// The customer rates their conversation's latest resolution: `(rating, created)`. A second
    /// rating of the same resolution changes the first for 7 days after it was given (409 then);
    /// a conversation never resolved cannot be rated yet (409). Without a comment the one given
    /// before stays; an empty one removes it.
    pub async fn rate(&self, caller: Caller, chat_id: i64, input: &RatingInput) -> AppResult<(Rating, bool)> {
        let (score, comment) = checked(input)?;
        let now = now_ms();
        let mut tx = self.db.write.begin().await?;
        // Read in the change: a resolution between the read and the write cannot mislead it.
        let resolved_at = resolution_in(&mut tx, caller, chat_id)
            .await?
            .ok_or_else(|| AppError::Conflict("a conversation can be rated once it is resolved".into()))?;
        // The first rating inserts; one racing it (or any later one) finds the row and changes it.
        let created = sqlx::query(
            "INSERT INTO chat_ratings (chat_id, resolved_at, score, comment, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (chat_id, resolved_at) DO NOTHING",
        )
        .bind(chat_id)
        .bind(resolved_at)
        .bind(score)
        .bind(comment.clone().flatten())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !created {
            let (given,): (i64,) =
                sqlx::query_as("SELECT created_at FROM chat_ratings WHERE chat_id = $1 AND resolved_at = $2")
                    .bind(chat_id)
                    .bind(resolved_at)
                    .fetch_one(&mut *tx)
                    .await?;
            if now - given > RATING_CHANGEABLE_DAYS * DAY_MS {
                return Err(AppError::Conflict(format!(
                    "a rating can be changed for {RATING_CHANGEABLE_DAYS} days after it was given"
                )));
            }
            sqlx::query(
                "UPDATE chat_ratings SET score = $1, comment = CASE WHEN $2 = 1 THEN $3 ELSE comment END, \
                 updated_at = $4 WHERE chat_id = $5 AND resolved_at = $6",
            )
            .bind(score)
            .bind(comment.is_some() as i64)
            .bind(comment.flatten())
            .bind(now)
            .bind(chat_id)
            .bind(resolved_at)
            .execute(&mut *tx)
            .await?;
        }
        let rating = self.latest_in(&mut tx, chat_id, resolved_at).await?;
        tx.commit().await?;
        Ok((rating.ok_or(AppError::not_found("rating"))?, created))
    }

    async fn latest_in(
        &self,
        conn: &mut sqlx::AnyConnection,
        chat_id: i64,
        resolved_at: i64,
    ) -> AppResult<Option<Rating>> {
        let row: Option<RatingRow> = sqlx::query_as(
            "SELECT chat_id, score, comment, resolved_at, created_at FROM chat_ratings \
             WHERE chat_id = $1 AND resolved_at = $2",
        )
        .bind(chat_id)
        .bind(resolved_at)
        .fetch_optional(conn)
        .await?;
        Ok(row.map(into_rating))
    }

    /// The customer's rating of their conversation's latest resolution (`None`: not rated).
    pub async fn rating(&self, caller: Caller, chat_id: i64) -> AppResult<Option<Rating>> {
        let Some(resolved_at) = self.resolution(caller, chat_id).await? else {
            return Ok(None);
        };
        let mut conn = self.db.read.acquire().await?;
        self.latest_in(&mut conn, chat_id, resolved_at).await
    }

    /// Puts a thumb on one of the assistant's replies (`Some`), or takes it off (`None`). 404 for
    /// a conversation that is not the customer's or a message not in it; 409 for a message that
    /// is not the assistant's.
    pub async fn thumb(&self, rater: Rater, chat_id: i64, message_id: i64, helpful: Option<bool>) -> AppResult<()> {
        let owner = match rater {
            Rater::Customer(caller) => Some(caller.user_id),
            Rater::Staff(_) => None,
        };
        // (A greeting answers nothing: a reply has a customer's message before it.)
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT m.role, CASE WHEN EXISTS (SELECT 1 FROM messages u WHERE u.chat_id = m.chat_id \
             AND u.role = 'user' AND u.id < m.id) THEN 1 ELSE 0 END \
             FROM messages m JOIN chats c ON c.id = m.chat_id \
             WHERE m.id = $1 AND m.chat_id = $2 AND ($3 IS NULL OR c.owner_id = $3)",
        )
        .bind(message_id)
        .bind(chat_id)
        .bind(owner)
        .fetch_optional(&self.db.read)
        .await?;
        let (role, answers) =
            row.ok_or_else(|| AppError::Missing(format!("there is no message {message_id} in chat {chat_id}")))?;
        if role != "assistant" || answers == 0 {
            return Err(AppError::Conflict("only the assistant's replies to the customer take a thumb".into()));
        }
        let (by_staff, staff_id) = match rater {
            Rater::Customer(_) => (0i64, None),
            Rater::Staff(staff) => (1, Some(staff.user_id)),
        };
        match helpful {
            Some(helpful) => {
                sqlx::query(
                    "INSERT INTO reply_feedback (message_id, chat_id, by_staff, staff_id, helpful, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (message_id, by_staff) \
                     DO UPDATE SET helpful = excluded.helpful, staff_id = excluded.staff_id, created_at = excluded.created_at",
                )
                .bind(message_id)
                .bind(chat_id)
                .bind(by_staff)
                .bind(staff_id)
                .bind(helpful as i64)
                .bind(now_ms())
                .execute(&self.db.write)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM reply_feedback WHERE message_id = $1 AND by_staff = $2")
                    .bind(message_id)
                    .bind(by_staff)
                    .execute(&self.db.write)
                    .await?;
            }
        }
        Ok(())
    }

    /// The customer's thumbs on their conversation's replies.
    pub async fn customer_thumbs(&self, caller: Caller, chat_id: i64) -> AppResult<Vec<CustomerThumb>> {
        self.resolution(caller, chat_id).await?;
        self.thumbs_of_customer(chat_id).await
    }

    async fn thumbs_of_customer(&self, chat_id: i64) -> AppResult<Vec<CustomerThumb>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT f.message_id, f.helpful FROM reply_feedback f JOIN messages m ON m.id = f.message_id \
             WHERE f.chat_id = $1 AND f.by_staff = 0 AND f.created_at > COALESCE(m.edited_at, -1) ORDER BY f.message_id",
        )
        .bind(chat_id)
        .fetch_all(&self.db.read)
        .await?;
        Ok(rows.into_iter().map(|(message_id, helpful)| CustomerThumb { message_id, helpful: helpful == 1 }).collect())
    }

    /// What the window shows of the customer's own: their thumbs `(message id, helpful)` and
    /// their rating of the latest resolution.
    pub async fn for_window(&self, caller: Caller, chat_id: i64) -> AppResult<(Vec<(i64, bool)>, Option<i64>)> {
        let resolved_at = self.resolution(caller, chat_id).await?;
        let thumbs = self.thumbs_of_customer(chat_id).await?;
        let rating = match resolved_at {
            Some(at) => {
                let mut conn = self.db.read.acquire().await?;
                self.latest_in(&mut conn, chat_id, at).await?.map(|r| r.score)
            }
            None => None,
        };
        Ok((thumbs.into_iter().map(|t| (t.message_id, t.helpful)).collect(), rating))
    }

    /// Every thumb on a conversation's replies, oldest reply first.
    async fn thumbs(&self, chat_id: i64) -> AppResult<Vec<ReplyThumbs>> {
        let rows: Vec<(i64, i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT f.message_id, f.by_staff, f.helpful, u.display_name FROM reply_feedback f \
             JOIN messages m ON m.id = f.message_id LEFT JOIN users u ON u.id = f.staff_id \
             WHERE f.chat_id = $1 AND f.created_at > COALESCE(m.edited_at, -1) ORDER BY f.message_id, f.by_staff",
        )
        .bind(chat_id)
        .fetch_all(&self.db.read)
        .await?;
        let mut replies: Vec<ReplyThumbs> = Vec::new();
        for (message_id, by_staff, helpful, name) in rows {
            if replies.last().is_none_or(|r| r.message_id != message_id) {
                replies.push(ReplyThumbs { message_id, customer: None, staff: None, staff_name: None });
            }
            let reply = replies.last_mut().expect("pushed above");
            if by_staff == 1 {
                reply.staff = Some(helpful == 1);
                reply.staff_name = name;
            } else {
                reply.customer = Some(helpful == 1);
            }
        }
        Ok(replies)
    }

    /// What the conversation's customer thought, for staff: every rating (newest resolution
    /// first) and every thumb. 404 for a conversation that does not exist.
    pub async fn for_staff(&self, _staff: Staff, chat_id: i64) -> AppResult<Satisfaction> {
        let (exists,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM chats WHERE id = $1").bind(chat_id).fetch_one(&self.db.read).await?;
        if exists == 0 {
            return Err(AppError::not_found("chat"));
        }
        let rows: Vec<RatingRow> = sqlx::query_as(
            "SELECT chat_id, score, comment, resolved_at, created_at FROM chat_ratings WHERE chat_id = $1 \
             ORDER BY resolved_at DESC",
        )
        .bind(chat_id)
        .fetch_all(&self.db.read)
        .await?;
        Ok(Satisfaction { ratings: rows.into_iter().map(into_rating).collect(), replies: self.thumbs(chat_id).await? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rating_is_one_to_five_with_a_short_comment() {
        let rating = |score, comment: Option<&str>| checked(&RatingInput { score, comment: comment.map(String::from) });
        assert_eq!(rating(5, Some("  Quick and kind ")).unwrap(), (5, Some(Some("Quick and kind".into()))));
        assert_eq!(rating(1, Some("   ")).unwrap(), (1, Some(None)), "a blank comment removes one");
        assert_eq!(rating(2, None).unwrap(), (2, None), "no comment keeps one");
        assert!(rating(0, None).is_err() && rating(6, None).is_err());
        let long = "x".repeat(RATING_COMMENT_MAX_CHARS + 1);
        assert!(rating(3, Some(&long)).is_err());
    }
}
