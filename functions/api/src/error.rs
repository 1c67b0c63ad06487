//! The API's error shape: the `x-amzn-ErrorType` header and a JSON body with `Message`.
//! A client's mistake is never a 500, and internals never reach a body (they go to the log).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use seismo_shared::error::ValidationError;
use serde_json::json;

use seismo_shared::store::StoreError;

/// Every error an operation can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field breaks a constraint (400).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// No such resource (400, as the old service).
    #[error("{message}")]
    NotFound {
        /// Message.
        message: String,
        /// The resource's id (ARN or name).
        resource_id: String,
        /// Its type, e.g. `AnomalyDetector`.
        resource_type: &'static str,
    },
    /// Duplicate name or illegal state change (409).
    #[error("{message}")]
    Conflict {
        /// Message.
        message: String,
        /// The resource's id.
        resource_id: String,
        /// Its type.
        resource_type: &'static str,
    },
    /// One of Seismo's quotas (402).
    #[error("{0}")]
    Quota(String),
    /// Something went wrong on our side (500): the detail is logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A missing resource.
    pub fn not_found(resource_type: &'static str, id: &str) -> Self {
        ApiError::NotFound {
            message: format!("{resource_type} {id} does not exist"),
            resource_id: id.to_string(),
            resource_type,
        }
    }

    /// A conflict with the resource's state.
    pub fn conflict(resource_type: &'static str, id: &str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            message: message.into(),
            resource_id: id.to_string(),
            resource_type,
        }
    }

    /// One field at fault.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(ValidationError::field(name, message))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, body) = match &self {
            ApiError::Validation(v) => (
                StatusCode::BAD_REQUEST,
                "ValidationException",
                json!({"Message": v.message, "Reason": v.reason, "Fields": v.fields}),
            ),
            ApiError::NotFound {
                message,
                resource_id,
                resource_type,
            } => (
                StatusCode::BAD_REQUEST,
                "ResourceNotFoundException",
                json!({"Message": message, "ResourceId": resource_id, "ResourceType": resource_type}),
            ),
            ApiError::Conflict {
                message,
                resource_id,
                resource_type,
            } => (
                StatusCode::CONFLICT,
                "ConflictException",
                json!({"Message": message, "ResourceId": resource_id, "ResourceType": resource_type}),
            ),
            ApiError::Quota(message) => (
                StatusCode::PAYMENT_REQUIRED,
                "ServiceQuotaExceededException",
                json!({"Message": message}),
            ),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerException",
                    json!({"Message": "internal error; the request can be retried"}),
                )
            }
        };
        let mut response = (status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(kind));
        response
    }
}
