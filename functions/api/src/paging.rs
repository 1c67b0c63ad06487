//! Paging: `MaxResults` and `NextToken`, and tokens sealed with the listing they belong to.

use seismo_shared::ids;
use serde_json::Value;

use crate::error::ApiError;
use crate::request::optional;

/// `MaxResults` (1-100, default 100) and `NextToken` (the last key of the previous page).
pub(crate) fn page(req: &Value) -> Result<(usize, Option<String>), ApiError> {
    let max = match req.get("MaxResults") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => {
                return Err(ApiError::field(
                    "MaxResults",
                    format!("{v} is outside 1-100"),
                ));
            }
        },
    };
    let token = optional(req, "NextToken")?.map(str::to_string);
    if let Some(t) = &token
        && (t.is_empty() || t.len() > 3000)
    {
        return Err(ApiError::field("NextToken", "length is outside 1-3000"));
    }
    if let Some(t) = &token
        && t.trim().is_empty()
    {
        return Err(ApiError::field(
            "NextToken",
            "must hold a non-space character",
        ));
    }
    Ok((max, token))
}

/// One page of `items` (sorted by key) after `token`, and the next token. Tokens are the last
/// key of a page, sealed with the listing they belong to (`scope`): a token from another
/// listing, or anything this API did not give, is a ValidationException, not an empty page or
/// a page from somewhere else.
pub(crate) fn paginate(
    items: Vec<(String, Value)>,
    max: usize,
    token: Option<&str>,
    scope: &str,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let after = token.map(|t| open_token(t, scope)).transpose()?;
    // Listings sorted by key continue after the key (robust to items deleted between pages);
    // others (newest first, most deviating first) after the item's position.
    let sorted = items.windows(2).all(|w| w[0].0 < w[1].0);
    let rest: Vec<(String, Value)> = match after.as_deref() {
        None => items,
        Some(t) if sorted => items.into_iter().filter(|(k, _)| k.as_str() > t).collect(),
        Some(t) => {
            let at = items.iter().position(|(k, _)| k == t).ok_or_else(|| {
                ApiError::field(
                    "NextToken",
                    "the item this token continues from is gone; list again",
                )
            })?;
            items.into_iter().skip(at + 1).collect()
        }
    };
    let next = (rest.len() > max).then(|| seal_token(&rest[max - 1].0, scope));
    Ok((rest.into_iter().take(max).map(|(_, v)| v).collect(), next))
}

/// What a listing's tokens are sealed with: the listing and what it lists (its request
/// without the paging members), so a token of one detector's groups does not page another's.
pub(crate) fn list_scope(req: &Value, listing: &str) -> String {
    let mut what = req.clone();
    if let Value::Object(m) = &mut what {
        m.remove("NextToken");
        m.remove("MaxResults");
    }
    format!("{listing}:{what}")
}

/// The token continuing after `key` (its format lives in [`seismo_shared::ids`]).
fn seal_token(key: &str, scope: &str) -> String {
    ids::seal_next_token(key, scope)
}

fn open_token(token: &str, scope: &str) -> Result<String, ApiError> {
    ids::open_next_token(token, scope)
        .ok_or_else(|| ApiError::field("NextToken", "not a token this listing gave"))
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use serde_json::json;

    fn page_through(items: &[(&str, i64)]) -> Vec<i64> {
        let items: Vec<(String, Value)> = items
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let (mut out, mut token) = (Vec::new(), None::<String>);
        loop {
            let (page, next) = paginate(items.clone(), 1, token.as_deref(), "t").unwrap();
            out.extend(page.iter().filter_map(Value::as_i64));
            match next {
                Some(t) => token = Some(t),
                None => return out,
            }
        }
    }

    #[test]
    fn every_item_once_in_the_listings_order() {
        // Sorted by key, and in another order (newest first, most deviating first).
        assert_eq!(page_through(&[("a", 1), ("b", 2), ("c", 3)]), [1, 2, 3]);
        assert_eq!(page_through(&[("c", 1), ("a", 2), ("b", 3)]), [1, 2, 3]);
        assert_eq!(
            page_through(&[("9e", 1), ("5b", 2), ("ff", 3), ("01", 4)]),
            [1, 2, 3, 4]
        );
    }
}
