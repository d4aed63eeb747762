//! Text into what retrieval works on: an article into passages (by headings and paragraphs, a few
//! hundred words each), a question into search terms, and whether a passage holds enough of a
//! question to answer it.

/// A passage grows paragraph by paragraph up to about this many words.
pub const PASSAGE_WORDS: usize = 220;

/// At most this many terms of a question are searched for.
const MAX_TERMS: usize = 16;

/// One passage: the heading it sits under (the article's title when none) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    pub heading: String,
    pub text: String,
}

/// Splits Markdown into passages: a heading starts a new one, and paragraphs join while a passage
/// holds at most [`PASSAGE_WORDS`] words. A longer paragraph is cut into passages of that size.
pub fn split(title: &str, body: &str) -> Vec<Passage> {
    let mut passages = Vec::new();
    let mut heading = title.trim().to_string();
    // The paragraphs of the passage being gathered, and their words.
    let mut current: Vec<String> = Vec::new();
    let mut words = 0usize;
    let mut lines: Vec<&str> = Vec::new();
    let flush = |current: &mut Vec<String>, words: &mut usize, heading: &str, out: &mut Vec<Passage>| {
        if !current.is_empty() {
            out.push(Passage { heading: heading.to_string(), text: current.join("\n\n") });
        }
        current.clear();
        *words = 0;
    };
    // Ends the paragraph of `lines`: it joins the passage, or starts the next when the passage
    // would grow past the size.
    let end_paragraph =
        |lines: &mut Vec<&str>, current: &mut Vec<String>, words: &mut usize, heading: &str, out: &mut Vec<Passage>| {
            let text = lines.join(" ");
            lines.clear();
            // A paragraph longer than a passage (a text without blank lines) is cut at words.
            let all: Vec<&str> = text.split_whitespace().collect();
            for piece in all.chunks(PASSAGE_WORDS) {
                if *words + piece.len() > PASSAGE_WORDS {
                    flush(current, words, heading, out);
                }
                *words += piece.len();
                current.push(piece.join(" "));
            }
        };
    for line in body.lines() {
        let trimmed = line.trim();
        if let Some(title) = heading_text(trimmed) {
            end_paragraph(&mut lines, &mut current, &mut words, &heading, &mut passages);
            flush(&mut current, &mut words, &heading, &mut passages);
            heading = title.to_string();
        } else if trimmed.is_empty() {
            end_paragraph(&mut lines, &mut current, &mut words, &heading, &mut passages);
        } else {
            lines.push(trimmed);
        }
    }
    end_paragraph(&mut lines, &mut current, &mut words, &heading, &mut passages);
    flush(&mut current, &mut words, &heading, &mut passages);
    if passages.is_empty() && !title.trim().is_empty() {
        // A title alone still finds the article.
        passages.push(Passage { heading: title.trim().to_string(), text: String::new() });
    }
    passages
}

/// The text of an ATX heading line (`## Returns`), if it is one.
fn heading_text(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &line[hashes..];
    (rest.is_empty() || rest.starts_with(' ')).then(|| rest.trim().trim_end_matches('#').trim())
}

/// Words that say nothing about what is asked.
const STOP_WORDS: &[&str] = &[
    "a", "about", "an", "and", "any", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for",
    "from", "get", "had", "has", "have", "hello", "hi", "how", "i", "if", "in", "is", "it", "its", "me", "my", "no",
    "not", "of", "on", "or", "our", "please", "so", "than", "thanks", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "to", "us", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will",
    "with", "would", "you", "your",
];

/// The search terms of a question: its words, lowercased, without stop words and repeats.
pub fn terms(question: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in words(question) {
        if STOP_WORDS.contains(&word.as_str()) || terms.contains(&word) {
            continue;
        }
        terms.push(word);
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    terms
}

/// The words of a text as search sees them: lowercase runs of letters and digits, two characters
/// or more.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).map(str::to_lowercase).filter(|w| w.chars().count() >= 2)
}

/// A word without its commonest English endings (returns, returned and returning meet).
fn stem(word: &str) -> &str {
    for ending in ["ing", "ed", "es", "er", "s"] {
        if let Some(base) = word.strip_suffix(ending) {
            if base.chars().count() >= 3 {
                return base;
            }
        }
    }
    word
}

/// Two words are the same term when one's stem begins the other's (ship and shipping), the shorter
/// at least three characters long.
fn same_term(a: &str, b: &str) -> bool {
    let (a, b) = (stem(a), stem(b));
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short == long || (short.chars().count() >= 3 && long.starts_with(short))
}

/// Whether a passage (with its title) holds enough of a question to answer it: at least half of
/// the question's terms, and at least one. Retrieval ranks; this decides whether the best it
/// found is an answer or only the least unrelated text.
pub fn answers(terms: &[String], title: &str, passage: &str) -> bool {
    if terms.is_empty() {
        return false;
    }
    let text = format!("{title} {passage}").to_lowercase();
    let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let found = terms.iter().filter(|t| words.iter().any(|w| same_term(t, w))).count();
    found >= terms.len().div_ceil(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_start_passages_and_paragraphs_join_until_a_passage_is_long_enough() {
        let long = "word ".repeat(150);
        let body = format!(
            "Intro line.\n\n## Returns\n\nFree within 30 days.\n\n{long}\n\n{long}\n\n## Warranty ##\nTwo years."
        );
        let passages = split("Policies", &body);
        let headings: Vec<&str> = passages.iter().map(|p| p.heading.as_str()).collect();
        assert_eq!(headings, ["Policies", "Returns", "Returns", "Warranty"]);
        assert_eq!(passages[0].text, "Intro line.");
        assert!(passages[1].text.starts_with("Free within 30 days.\n\nword"));
        assert_eq!(passages[3].text, "Two years.");
    }

    #[test]
    fn a_text_without_blank_lines_is_cut_into_passages_of_the_size() {
        let body = "word ".repeat(PASSAGE_WORDS * 2 + 5);
        let sizes: Vec<usize> = split("T", &body).iter().map(|p| p.text.split_whitespace().count()).collect();
        assert_eq!(sizes, [PASSAGE_WORDS, PASSAGE_WORDS, 5]);
    }

    #[test]
    fn an_empty_body_is_found_by_its_title() {
        assert_eq!(split("Opening hours", " \n"), [Passage { heading: "Opening hours".into(), text: String::new() }]);
        assert!(split("", "").is_empty());
    }

    #[test]
    fn a_hash_without_a_space_is_not_a_heading() {
        assert_eq!(split("T", "#hashtag\n####### seven").len(), 1);
    }

    #[test]
    fn a_questions_terms_leave_out_stop_words_and_repeats() {
        assert_eq!(
            terms("Does the lamp have a warranty? And what is the lamp's return policy?"),
            ["lamp", "warranty", "return", "policy"]
        );
        assert!(terms("Is it? Hi!").is_empty());
    }

    #[test]
    fn a_passage_answers_when_it_holds_half_of_the_terms() {
        let terms = terms("How long does shipping to France take?");
        assert_eq!(terms, ["long", "shipping", "france", "take"]);
        assert!(answers(&terms, "Shipping", "We ship to France in 3 days; it takes longer to islands."));
        assert!(!answers(&terms, "Returns", "Returned items must be unused. We ship labels by email."));
        assert!(answers(&terms[1..2], "Delivery", "We ship every weekday."), "ship is shipping's stem");
        assert!(!answers(&[], "Shipping", "anything"));
    }
}
