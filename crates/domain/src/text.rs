//! Text normalisation shared by every parser: what people type into Excel.

/// Full-width ASCII (`１２３ＡＢ－`) to half-width, ideographic space to space.
pub fn to_half_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Half-width, trimmed, and with every kind of whitespace (including
/// non-breaking spaces Excel loves) collapsed to nothing.
pub fn squeeze(s: &str) -> String {
    to_half_width(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Half-width and trimmed, inner whitespace kept as single spaces.
pub fn clean(s: &str) -> String {
    let visible: String = s
        .chars()
        .filter(|c| !is_invisible(*c) && (c.is_whitespace() || !c.is_control()))
        .collect();
    to_half_width(&visible)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A character that shows nothing and changes no word: zero-width spaces
/// and joiners, direction marks and overrides, soft hyphens, variation
/// selectors, fillers, tags (Unicode's default-ignorable characters), and
/// the blank braille pattern. Names and reasons drop them: text made only
/// of them is empty, and a direction override would disguise a record.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}'
        | '\u{2800}' | '\u{3164}'
        | '\u{fe00}'..='\u{fe0f}'
        | '\u{feff}' | '\u{ffa0}'
        | '\u{fff0}'..='\u{fffb}'
        | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}'
        | '\u{e0000}'..='\u{e0fff}')
}

/// Why a written reason (a recount's, a correction's) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteError {
    Empty,
    TooLong(usize),
    Control,
}

impl std::fmt::Display for NoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoteError::Empty => write!(f, "原因为空 / the reason is empty"),
            NoteError::TooLong(n) => write!(
                f,
                "原因超过 {n} 个字 / the reason is longer than {n} characters"
            ),
            NoteError::Control => write!(
                f,
                "原因含有控制字符 / the reason contains a control character"
            ),
        }
    }
}

/// A reason as it is kept (in the audit log, on a record): [`clean`]ed,
/// invisible characters (zero-width spaces, joiners, byte-order marks)
/// dropped; refused when nothing is left, when longer than `max`
/// characters, or when it holds a control character (a NUL cannot be
/// stored on PostgreSQL, and none belongs in a record).
pub fn reason(s: &str, max: usize) -> Result<String, NoteError> {
    if s.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(NoteError::Control);
    }
    let r = clean(s);
    if r.is_empty() {
        return Err(NoteError::Empty);
    }
    if r.chars().count() > max {
        return Err(NoteError::TooLong(max));
    }
    Ok(r)
}

/// A bilingual message under a bilingual heading, each language whole:
/// `labelled("电话无效", "phone", "位数不对 / 10 digits")` is
/// `电话无效：位数不对 / phone: 10 digits`. A message in one language only
/// goes to both halves.
pub fn labelled(zh: &str, en: &str, message: &str) -> String {
    let (mz, me) = split_languages(message).unwrap_or((message, message));
    format!("{zh}：{mz} / {en}: {me}")
}

/// The two halves of `中文 / English`: split at the first `/ ` after a space
/// or a Chinese character (`…（有一位输错了）/ check …`), each trimmed.
pub fn split_languages(message: &str) -> Option<(&str, &str)> {
    let at = message.match_indices("/ ").map(|(i, _)| i).find(|&i| {
        message[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c == ' ' || !c.is_ascii())
    })?;
    Some((message[..at].trim(), message[at + 2..].trim()))
}

/// Chinese numerals one to ninety-nine (`三`, `十二`, `二十`) as a number.
pub fn chinese_number(s: &str) -> Option<u32> {
    fn digit(c: char) -> Option<u32> {
        Some(match c {
            '零' | '〇' => 0,
            '一' | '壹' => 1,
            '二' | '两' | '贰' => 2,
            '三' | '叁' => 3,
            '四' | '肆' => 4,
            '五' | '伍' => 5,
            '六' | '陆' => 6,
            '七' | '柒' => 7,
            '八' | '捌' => 8,
            '九' | '玖' => 9,
            _ => return None,
        })
    }
    let cs: Vec<char> = s.chars().collect();
    match cs.as_slice() {
        ['十'] => Some(10),
        [a] => digit(*a).filter(|d| *d > 0),
        ['十', b] => digit(*b).map(|d| 10 + d),
        [a, '十'] => digit(*a).map(|d| d * 10),
        [a, '十', b] => Some(digit(*a)? * 10 + digit(*b)?),
        _ => None,
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved characters (letters,
/// digits, `-._~`): a query value, or an RFC 5987 header parameter.
pub fn percent_encode(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_labelled_message_keeps_each_language_whole() {
        assert_eq!(
            labelled("电话无效", "phone", "位数不对 / 10 digits"),
            "电话无效：位数不对 / phone: 10 digits"
        );
        assert_eq!(
            labelled("证件", "document", "empty"),
            "证件：empty / document: empty"
        );
        assert_eq!(
            labelled(
                "证件",
                "document",
                "校验位错误（输错了）/ check character wrong"
            ),
            "证件：校验位错误（输错了） / document: check character wrong"
        );
    }

    #[test]
    fn a_reason_is_visible_text_of_bounded_length() {
        assert_eq!(reason("  封袋时 数错 ", 10), Ok("封袋时 数错".into()));
        assert_eq!(reason("\u{200b} \u{feff}", 10), Err(NoteError::Empty));
        assert_eq!(reason("数错\0", 10), Err(NoteError::Control));
        assert_eq!(reason(&"错".repeat(11), 10), Err(NoteError::TooLong(10)));
        assert_eq!(reason("Ｎｏ．７", 10), Ok("No.7".into()));
        for blank in [
            "\u{202e}",
            "\u{3164}",
            "\u{00ad}",
            "\u{2800}",
            "\u{e0001}",
            "\u{fe0f}",
        ] {
            assert_eq!(reason(blank, 10), Err(NoteError::Empty), "{blank:?}");
        }
        assert_eq!(reason("数\u{202e}错", 10), Ok("数错".into()));
        assert_eq!(clean("王\u{0}小\u{200b}二 "), "王小二");
    }

    use super::*;
    #[test]
    fn half_width_and_squeeze() {
        assert_eq!(to_half_width("１３８－００１３"), "138-0013");
        assert_eq!(
            squeeze(" 2201\u{3000}02 19\u{a0}90 "),
            "220102199 0".replace(' ', "")
        );
        assert_eq!(clean("  王  小明 "), "王 小明");
    }
    #[test]
    fn chinese_numbers() {
        assert_eq!(chinese_number("三"), Some(3));
        assert_eq!(chinese_number("十"), Some(10));
        assert_eq!(chinese_number("十二"), Some(12));
        assert_eq!(chinese_number("二十"), Some(20));
        assert_eq!(chinese_number("三十三"), Some(33));
        assert_eq!(chinese_number("零"), None);
        assert_eq!(chinese_number("楼"), None);
    }
}
