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
    if !api || head || is_json || !res.status().is_client_error() {
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
    let message = format!("请求无法处理 / the request cannot be handled: {text}");
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
