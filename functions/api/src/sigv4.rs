//! Signature Version 4 checking for the local server: with keys configured, every request must
//! be signed with one of them (any region; the signing name `lookoutmetrics` or `execute-api`).
//! Deployed behind API Gateway, IAM auth does this instead.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Access keys and their secrets.
#[derive(Debug, Clone, Default)]
pub struct Keys(pub BTreeMap<String, String>);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding of everything but unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn deny(message: &str) -> Response {
    let mut r = (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({ "Message": message })),
    )
        .into_response();
    r.headers_mut().insert(
        "x-amzn-ErrorType",
        HeaderValue::from_static("AccessDeniedException"),
    );
    r
}

/// What a signature covers.
pub(crate) struct Signed<'a> {
    pub(crate) method: &'a str,
    pub(crate) raw_path: &'a str,
    pub(crate) raw_query: &'a str,
    /// Lower-case names and trimmed values.
    pub(crate) headers: &'a [(String, String)],
    /// `host;x-amz-date;...`
    pub(crate) signed_headers: &'a str,
    pub(crate) payload: &'a [u8],
    /// `DATE/REGION/SERVICE/aws4_request`
    pub(crate) scope: &'a str,
    pub(crate) amz_date: &'a str,
}

/// The signature a request should carry (`None` when it cannot be formed).
pub(crate) fn expected_signature(secret: &str, r: &Signed<'_>) -> Option<String> {
    let Signed {
        method,
        raw_path,
        raw_query,
        headers,
        signed_headers,
        payload,
        scope,
        amz_date,
    } = *r;
    // Non-S3 services encode each path segment once more.
    let path: String = raw_path
        .split('/')
        .map(encode)
        .collect::<Vec<_>>()
        .join("/");
    let mut query: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode(s);
            (encode(&dec(k)), encode(&dec(v)))
        })
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let values: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return None;
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload_hash = hex(&Sha256::digest(payload));
    let canonical =
        format!("{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut parts = scope.split('/');
    let (date, region, service) = (parts.next()?, parts.next()?, parts.next()?);
    let k = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, service);
    let k = hmac(&k, "aws4_request");
    Some(hex(&hmac(&k, &to_sign)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_digit = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The middleware: passes signed requests, answers others with AccessDeniedException (403).
pub(crate) async fn check(keys: Keys, request: Request<Body>, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(payload) = axum::body::to_bytes(body, 16 << 20).await else {
        return deny("the body could not be read");
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let Some(auth) = header("authorization") else {
        return deny("this server requires requests signed with Signature Version 4");
    };
    let Some(fields) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return deny("unsupported authorization scheme");
    };
    let field = |key: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(key))
            .map(str::to_string)
    };
    let (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) = (
        field("Credential="),
        field("SignedHeaders="),
        field("Signature="),
        header("x-amz-date"),
    ) else {
        return deny("the authorization header is incomplete");
    };
    let Some((access_key, scope)) = credential.split_once('/') else {
        return deny("the credential is malformed");
    };
    let Some(secret) = keys.0.get(access_key) else {
        return deny("unknown access key");
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| {
            Some((
                n.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.trim().to_string(),
            ))
        })
        .collect();
    let signed = Signed {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        signed_headers: &signed_headers,
        payload: &payload,
        scope,
        amz_date: &amz_date,
    };
    let expected = expected_signature(secret, &signed);
    let same = expected.is_some_and(|e| {
        e.len() == signature.len()
            && e.bytes()
                .zip(signature.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if !same {
        return deny("the request signature does not match");
    }
    next.run(Request::from_parts(parts, Body::from(payload)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `get-vanilla` case of AWS's published Signature Version 4 test suite.
    #[test]
    fn matches_the_aws_test_suite() {
        let headers = vec![
            ("host".to_string(), "example.amazonaws.com".to_string()),
            ("x-amz-date".to_string(), "20150830T123600Z".to_string()),
        ];
        let signed = Signed {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: &headers,
            signed_headers: "host;x-amz-date",
            payload: b"",
            scope: "20150830/us-east-1/service/aws4_request",
            amz_date: "20150830T123600Z",
        };
        assert_eq!(
            expected_signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &signed).unwrap(),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(percent_decode("a%3Ab%2x%"), "a:b%2x%");
    }
}
