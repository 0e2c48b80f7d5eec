//! Masking of personal data for lists, pages and exports.

/// `220102199003071234` → `220102********1234`; short numbers keep their ends.
pub fn document(number: &str) -> String {
    let cs: Vec<char> = number.chars().collect();
    match cs.len() {
        0 => String::new(),
        n if n >= 15 => format!(
            "{}{}{}",
            cs[..6].iter().collect::<String>(),
            "*".repeat(n - 10),
            cs[n - 4..].iter().collect::<String>()
        ),
        n if n > 4 => format!(
            "{}{}{}",
            cs[0],
            "*".repeat(n - 3),
            cs[n - 2..].iter().collect::<String>()
        ),
        n => "*".repeat(n),
    }
}

/// `13812345678` → `138****5678`; landlines keep area code and last four.
pub fn phone(number: &str) -> String {
    let cs: Vec<char> = number.chars().collect();
    let n = cs.len();
    if n < 7 {
        return "*".repeat(n);
    }
    let head = if cs[0] == '0' { n.saturating_sub(8) } else { 3 };
    let head = head.min(n - 4);
    format!(
        "{}{}{}",
        cs[..head].iter().collect::<String>(),
        "*".repeat(n - head - 4),
        cs[n - 4..].iter().collect::<String>()
    )
}

/// What the purge leaves in place of a name (or a reason): shown as it is.
pub const PURGED: &str = "已清除";

/// `王小芳` → `王*芳`, `王芳` → `王*`, `欧阳小芳` → `欧**芳`; a purged
/// name stays [`PURGED`].
pub fn name(full: &str) -> String {
    if full == PURGED {
        return full.to_string();
    }
    let cs: Vec<char> = full.chars().collect();
    match cs.len() {
        0 => String::new(),
        1 => "*".to_string(),
        2 => format!("{}*", cs[0]),
        n => format!("{}{}{}", cs[0], "*".repeat(n - 2), cs[n - 1]),
    }
}

/// Who was just swabbed, for a station to check against the person in front
/// of it, masked: `张*萍 女 44岁`.
pub fn person_brief(full_name: &str, gender_zh: &str, age: Option<i32>) -> String {
    let mut out = name(full_name);
    if !gender_zh.is_empty() {
        out.push(' ');
        out.push_str(gender_zh);
    }
    if let Some(a) = age.filter(|a| (0..150).contains(a)) {
        out.push_str(&format!(" {a}岁"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn masks() {
        assert_eq!(document("22010219900307123X"), "220102********123X");
        assert_eq!(document("E12345678"), "E******78");
        assert_eq!(document("AB1"), "***");
        assert_eq!(phone("13812345678"), "138****5678");
        assert_eq!(phone("043188881234"), "0431****1234");
        assert_eq!(phone("12345"), "*****");
        // Found by the property tests: a short number starting with 0 underflowed.
        assert_eq!(phone("0431888"), "***1888");
        assert_eq!(name("王小芳"), "王*芳");
        assert_eq!(name("王芳"), "王*");
        assert_eq!(name("欧阳小芳"), "欧**芳");
        assert_eq!(name(PURGED), PURGED);
        assert_eq!(person_brief("张小萍", "女", Some(44)), "张*萍 女 44岁");
        assert_eq!(person_brief("刘建军", "", None), "刘*军");
        assert_eq!(person_brief("王芳", "女", Some(-3)), "王* 女");
    }
}
