//! Tags of detectors, metric sets and alerts.

use seismo_shared::validate::Check;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::resources::{require_resource, stays};
use crate::state::Api;
use crate::swap::modify;
use seismo_shared::store::{Kind, Store};

/// Tags: 1-50, keys 1-128 characters, values up to 256.
pub(crate) fn check_tags(tags: &Value) -> Result<(), ApiError> {
    let Value::Object(map) = tags else {
        return Err(ApiError::field(
            "Tags",
            "must be a map of tag keys to values",
        ));
    };
    let mut c = Check::default();
    if map.is_empty() || map.len() > 50 {
        c.fail("Tags", format!("{} tags; 1-50 are allowed", map.len()));
    }
    for (k, v) in map {
        c.length(&format!("Tags.{k}"), k, 1, 128);
        match v.as_str() {
            Some(v) => {
                c.length(&format!("Tags.{k}"), v, 0, 256);
            }
            None => c.fail(format!("Tags.{k}"), "must be a string"),
        }
    }
    c.finish().map_err(Into::into)
}

/// ListTagsForResource: a resource's tags (`{}` when it has none).
pub(crate) async fn list_tags<S: Store>(api: &Api<S>, arn: &str) -> Result<Value, ApiError> {
    require_resource(api, arn).await?;
    let tags = api
        .store
        .get(Kind::Tags, arn)
        .await?
        .unwrap_or_else(|| json!({}));
    Ok(json!({ "Tags": tags }))
}

/// TagResource: adds (or replaces) the request's `tags` on a resource.
pub(crate) async fn tag_resource<S: Store>(
    api: &Api<S>,
    arn: &str,
    req: &Value,
) -> Result<(), ApiError> {
    require_resource(api, arn).await?;
    let new = req
        .get("tags")
        .or_else(|| req.get("Tags"))
        .cloned()
        .unwrap_or(Value::Null);
    let Value::Object(new) = new else {
        return Err(ApiError::field(
            "Tags",
            "required: a map of tag keys to values",
        ));
    };
    let not_found = || ApiError::not_found("Resource", arn);
    modify(api, Kind::Tags, arn, Some(json!({})), not_found, |tags| {
        if let Value::Object(t) = tags {
            t.extend(new.clone());
        }
        check_tags(tags)
    })
    .await?;
    // Deleted meanwhile: these tags are nobody's (a later resource of that name must not
    // inherit them).
    let mut stays_there = false;
    for kind in [Kind::Detector, Kind::MetricSet, Kind::Alert] {
        stays_there |= stays(api, kind, arn).await?;
    }
    if !stays_there {
        api.store.delete(Kind::Tags, arn).await?;
        return Err(ApiError::not_found("Resource", arn));
    }
    Ok(())
}

/// UntagResource: removes the tags with these keys (the query's `tagKeys`) from a resource.
pub(crate) async fn untag_resource<S: Store>(
    api: &Api<S>,
    arn: &str,
    keys: &[String],
) -> Result<(), ApiError> {
    require_resource(api, arn).await?;
    if keys.is_empty() {
        return Err(ApiError::field("TagKeys", "required: at least one tag key"));
    }
    // The model's limits: 1-50 keys of 1-128 characters.
    let mut c = Check::default();
    if keys.len() > 50 {
        c.fail("TagKeys", format!("{} keys; 1-50 are allowed", keys.len()));
    }
    for (i, k) in keys.iter().enumerate() {
        c.length(&format!("TagKeys[{i}]"), k, 1, 128);
    }
    c.finish()?;
    let not_found = || ApiError::not_found("Resource", arn);
    modify(api, Kind::Tags, arn, Some(json!({})), not_found, |tags| {
        if let Value::Object(t) = tags {
            for k in keys {
                t.remove(k);
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}
