//! axum answers a request it cannot extract (bad JSON body, wrong content
//! type, bad query string or path segment, wrong method) with plain text. The
//! API answers every error as JSON `{code, message}`: this layer rewrites those
//! plain-text client errors on API paths, keeping their status and text.

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
    let api = !crate::is_page(req.uri().path());
    let head = req.method() == Method::HEAD;
    let (lang, _) = crate::pages::lang_of(req.headers(), req.uri().query());
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
    if !api
        && !head
        && res.status() == StatusCode::PAYLOAD_TOO_LARGE
        && !content_type.starts_with("text/html")
    {
        return crate::pages::error_page(
            lang,
            res.status(),
            code_of(res.status()),
            lang.t(
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
    if !api && content_type.starts_with("text/html") {
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
    let zh = in_chinese(parts.status, &text);
    if !api {
        return crate::pages::error_page(
            lang,
            parts.status,
            code_of(parts.status),
            lang.t(&zh, &format!("The request cannot be handled: {text}")),
        );
    }
    let message = format!("{zh} / the request cannot be handled: {text}");
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

/// What an extractor's English refusal means, in Chinese (the field named
/// where the text names one).
fn in_chinese(status: StatusCode, text: &str) -> String {
    // serde's "FIELD: invalid type: string \"1\", expected i64 at line 1 …"
    let field = text
        .split("target type: ")
        .nth(1)
        .and_then(|rest| rest.split(": ").next())
        .filter(|f| !f.is_empty() && !f.contains(' '));
    let missing = text
        .split("missing field `")
        .nth(1)
        .and_then(|rest| rest.split('`').next());
    let expected = text
        .split("expected ")
        .nth(1)
        .map(|rest| rest.split(" at line").next().unwrap_or(rest).trim());
    match status {
        StatusCode::METHOD_NOT_ALLOWED => "此地址不接受这种请求方法".to_string(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            if text.contains("application/json") {
                "请求须为 JSON（Content-Type: application/json）".to_string()
            } else if text.contains("x-www-form-urlencoded") {
                "请求须为表单（Content-Type: application/x-www-form-urlencoded）".to_string()
            } else {
                "请求的内容类型不对".to_string()
            }
        }
        StatusCode::PAYLOAD_TOO_LARGE => "请求太大，未处理".to_string(),
        StatusCode::NOT_FOUND => "找不到这个地址".to_string(),
        _ => match (missing, field, expected) {
            (Some(m), _, _) => format!("缺少字段 {m}"),
            (None, Some(f), Some(e)) => format!("字段 {f} 的值不对（应为 {}）", expected_words(e)),
            (None, Some(f), None) => format!("字段 {f} 的值不对"),
            _ if text.contains("parse the request body as JSON") || text.contains("syntax") => {
                "请求体不是有效的 JSON".to_string()
            }
            _ if text.contains("query string") => "地址中的查询参数不对".to_string(),
            _ => "请求无法处理".to_string(),
        },
    }
}

/// serde's names of what it expected, as a person says them.
fn expected_words(e: &str) -> &str {
    match e {
        "i64" | "i32" | "u32" | "u64" | "u8" | "usize" | "an integer" => "整数",
        "f64" | "f32" => "数字",
        "a string" => "文字",
        "a boolean" => "true 或 false",
        "a sequence" => "列表",
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_refusals_read_in_chinese() {
        let t = "Failed to deserialize the JSON body into the target type: street: invalid type: string \"1\", expected i64 at line 1 column 14";
        assert_eq!(
            in_chinese(StatusCode::UNPROCESSABLE_ENTITY, t),
            "字段 street 的值不对（应为 整数）"
        );
        assert_eq!(
            in_chinese(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Failed to deserialize form body: missing field `password`"
            ),
            "缺少字段 password"
        );
        assert_eq!(
            in_chinese(
                StatusCode::BAD_REQUEST,
                "Failed to parse the request body as JSON: EOF while parsing"
            ),
            "请求体不是有效的 JSON"
        );
        assert!(in_chinese(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected request with `Content-Type: application/json`"
        )
        .contains("JSON"));
        assert_eq!(
            in_chinese(StatusCode::METHOD_NOT_ALLOWED, ""),
            "此地址不接受这种请求方法"
        );
    }
}
