//! axum answers a request it cannot extract (bad JSON body, wrong content
//! type, bad query string or path segment, wrong method) with plain text. The
//! API answers every error as JSON `{code, message}`: this layer rewrites those
//! plain-text client errors on API paths, keeping their status, and says in
//! both languages (Chinese first) which field is missing or wrong; a page's
//! refusal is a page in the reader's own header.

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The code for a status axum's extractors answer with.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        _ => "bad_request",
    }
}

pub(crate) async fn as_json(req: Request, next: Next) -> Response {
    let head = req.method() == Method::HEAD;
    // A page's refusal keeps the reader's header and its language link.
    let page = crate::is_page(req.uri().path()).then(|| crate::pages::Page::of_request(&req));
    let res = next.run(req).await;
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let is_json = content_type.starts_with("application/json");
    // A page's form gets a page: a file too large for the upload, say, is
    // said in words where the form shows its answer.
    if let Some(page) = page.as_ref().filter(|_| {
        !head
            && res.status() == StatusCode::PAYLOAD_TOO_LARGE
            && !content_type.starts_with("text/html")
    }) {
        return page.error_with(
            res.status(),
            code_of(res.status()),
            page.lang.t(
                "文件太大，未导入任何内容：请拆分成几个文件后分别上传",
                "The file is too large: nothing was imported. Split it into several files and upload each",
            ),
        );
    }
    if head || is_json || !res.status().is_client_error() {
        return res;
    }
    // A page answered in plain text (or nothing) by an extractor: a wrong
    // method, a form of the wrong type, a field missing.
    if page.is_some() && content_type.starts_with("text/html") {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let text = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("bad request")
            .to_string()
    } else {
        text
    };
    let refusal = Refusal::read(parts.status, &text);
    if let Some(page) = page {
        let message = match page.lang {
            crate::pages::Lang::Zh => refusal.in_chinese(),
            crate::pages::Lang::En => capitalised(&refusal.in_english(&text)),
        };
        return page.error_with(parts.status, code_of(parts.status), &message);
    }
    let message = format!("{} / {}", refusal.in_chinese(), refusal.in_english(&text));
    let mut out = (
        parts.status,
        Json(json!({ "code": code_of(parts.status), "message": message })),
    )
        .into_response();
    // Keep headers such as `Allow` on 405.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What an extractor's English refusal says, read from its text: which
/// field is missing or wrong where the text names one.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Method,
    NeedsJson,
    NeedsForm,
    ContentType,
    TooLarge,
    NotFound,
    /// A field the body or query lacks (its path: `results[0].barcode`).
    Missing(String),
    /// A field whose value does not fit, and what was expected (serde's words).
    Wrong(String, Option<String>),
    /// A body of the wrong shape at the top (a list or number, not an object).
    NotObject,
    NotJson,
    Query,
    PathSegment,
    Other,
}

impl Refusal {
    fn read(status: StatusCode, text: &str) -> Refusal {
        match status {
            StatusCode::METHOD_NOT_ALLOWED => return Refusal::Method,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                return if text.contains("application/json") {
                    Refusal::NeedsJson
                } else if text.contains("x-www-form-urlencoded") {
                    Refusal::NeedsForm
                } else {
                    Refusal::ContentType
                };
            }
            StatusCode::PAYLOAD_TOO_LARGE => return Refusal::TooLarge,
            StatusCode::NOT_FOUND => return Refusal::NotFound,
            _ => {}
        }
        // axum's words before serde's: "Failed to deserialize the JSON body
        // into the target type: PATH: serde's text at line 1 column 14".
        let detail = [
            "into the target type: ",
            "deserialize form body: ",
            "deserialize query string: ",
        ]
        .iter()
        .find_map(|p| text.split_once(p).map(|(_, rest)| rest));
        if let Some(detail) = detail {
            let detail = detail.split(" at line ").next().unwrap_or(detail).trim();
            // serde_path_to_error's path, when the error is not at the top.
            let (path, serde) = match detail.split_once(": ") {
                Some((p, rest)) if !p.is_empty() && !p.contains(' ') => (Some(p), rest),
                _ => (None, detail),
            };
            if let Some(name) = serde
                .split("missing field `")
                .nth(1)
                .and_then(|rest| rest.split('`').next())
            {
                return Refusal::Missing(match path {
                    Some(p) => format!("{p}.{name}"),
                    None => name.to_string(),
                });
            }
            let expected = serde
                .split("expected ")
                .nth(1)
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty());
            match (path, expected) {
                (Some(p), e) => return Refusal::Wrong(p.to_string(), e),
                (None, Some(e)) if e.starts_with("struct ") || e == "a map" => {
                    return Refusal::NotObject
                }
                _ => {}
            }
        }
        if text.contains("parse the request body as JSON") || text.contains("syntax") {
            Refusal::NotJson
        } else if text.contains("query string") {
            Refusal::Query
        } else if text.contains("Invalid URL") || text.contains("path") {
            Refusal::PathSegment
        } else {
            Refusal::Other
        }
    }

    fn in_chinese(&self) -> String {
        match self {
            Refusal::Method => "此地址不接受这种请求方法".into(),
            Refusal::NeedsJson => "请求须为 JSON（Content-Type: application/json）".into(),
            Refusal::NeedsForm => {
                "请求须为表单（Content-Type: application/x-www-form-urlencoded）".into()
            }
            Refusal::ContentType => "请求的内容类型不对".into(),
            Refusal::TooLarge => "请求太大，未处理".into(),
            Refusal::NotFound => "找不到这个地址".into(),
            Refusal::Missing(f) => format!("缺少字段 {f}"),
            Refusal::Wrong(f, Some(e)) => {
                format!("字段 {f} 的值不对（应为 {}）", expected_words(e).0)
            }
            Refusal::Wrong(f, None) => format!("字段 {f} 的值不对"),
            Refusal::NotObject => "请求体应为 JSON 对象（{…}）".into(),
            Refusal::NotJson => "请求体不是有效的 JSON".into(),
            Refusal::Query => "地址中的查询参数不对".into(),
            Refusal::PathSegment => "地址中的编号或名称不对".into(),
            Refusal::Other => "请求无法处理".into(),
        }
    }

    /// In English; `text` (axum's own words) is kept where it says more.
    fn in_english(&self, text: &str) -> String {
        match self {
            Refusal::Method => "this address does not take this method".into(),
            Refusal::NeedsJson => {
                "the request must be JSON (Content-Type: application/json)".into()
            }
            Refusal::NeedsForm => {
                "the request must be a form (Content-Type: application/x-www-form-urlencoded)"
                    .into()
            }
            Refusal::ContentType => "the request's content type is wrong".into(),
            Refusal::TooLarge => "the request is too large: nothing was done".into(),
            Refusal::NotFound => "there is no such address".into(),
            Refusal::Missing(f) => format!("the field {f} is missing"),
            Refusal::Wrong(f, Some(e)) => format!(
                "the field {f} has a wrong value (expected {})",
                expected_words(e).1
            ),
            Refusal::Wrong(f, None) => format!("the field {f} has a wrong value"),
            Refusal::NotObject => "the body must be a JSON object ({…})".into(),
            Refusal::NotJson | Refusal::Query | Refusal::PathSegment | Refusal::Other => {
                format!("the request cannot be handled: {text}")
            }
        }
    }
}

/// serde's names of what it expected, as a person says them: Chinese, English.
fn expected_words(e: &str) -> (&str, &str) {
    match e {
        "i64" | "i32" | "u32" | "u64" | "u16" | "u8" | "usize" | "an integer" => {
            ("整数", "a whole number")
        }
        "f64" | "f32" => ("数字", "a number"),
        "a string" => ("文字", "text"),
        "a boolean" => ("true 或 false", "true or false"),
        "a sequence" => ("列表", "a list"),
        _ => (e, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(status: StatusCode, text: &str) -> String {
        let r = Refusal::read(status, text);
        format!("{} / {}", r.in_chinese(), r.in_english(text))
    }

    #[test]
    fn serde_refusals_name_the_field_in_both_languages() {
        let t = "Failed to deserialize the JSON body into the target type: street: invalid type: string \"1\", expected i64 at line 1 column 14";
        assert_eq!(
            both(StatusCode::UNPROCESSABLE_ENTITY, t),
            "字段 street 的值不对（应为 整数） / the field street has a wrong value (expected a whole number)"
        );
        assert_eq!(
            both(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize the JSON body into the target type: missing field `reason` at line 1 column 20"
            ),
            "缺少字段 reason / the field reason is missing"
        );
        assert_eq!(
            both(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize the JSON body into the target type: results[0]: missing field `barcode` at line 1 column 40"
            ),
            "缺少字段 results[0].barcode / the field results[0].barcode is missing"
        );
        assert_eq!(
            both(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize form body: missing field `password`"
            ),
            "缺少字段 password / the field password is missing"
        );
        assert_eq!(
            Refusal::read(
                StatusCode::BAD_REQUEST,
                "Failed to deserialize query string: invalid digit found in string"
            ),
            Refusal::Query
        );
        assert_eq!(
            both(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize the JSON body into the target type: invalid type: sequence, expected struct ExemptBody at line 1 column 0"
            ),
            "请求体应为 JSON 对象（{…}） / the body must be a JSON object ({…})"
        );
        assert_eq!(
            Refusal::read(
                StatusCode::BAD_REQUEST,
                "Failed to parse the request body as JSON: EOF while parsing"
            )
            .in_chinese(),
            "请求体不是有效的 JSON"
        );
        assert!(Refusal::read(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected request with `Content-Type: application/json`"
        )
        .in_chinese()
        .contains("JSON"));
        assert_eq!(
            Refusal::read(StatusCode::METHOD_NOT_ALLOWED, "").in_chinese(),
            "此地址不接受这种请求方法"
        );
        // What it cannot read it says in axum's words after its own.
        assert_eq!(
            both(StatusCode::BAD_REQUEST, "something new"),
            "请求无法处理 / the request cannot be handled: something new"
        );
    }
}
