//! Errors with a kind the API can map to its wire shape.

use serde::Serialize;

/// Why a request or configuration was refused (`ValidationExceptionReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValidationReason {
    /// The body is not valid JSON or not of the expected shape.
    CannotParse,
    /// One or more fields break a constraint.
    FieldValidationFailed,
    /// Anything else.
    Other,
}

/// One field that broke a constraint (`ValidationExceptionField`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldError {
    /// The field's path, e.g. `MetricList[0].MetricName`.
    pub name: String,
    /// What is wrong with it.
    pub message: String,
}

/// A request or configuration that breaks the API model's constraints, naming every field at
/// fault (the API's `ValidationException`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "PascalCase")]
#[error("{message}")]
pub struct ValidationError {
    /// Summary naming the fields.
    pub message: String,
    /// Why.
    pub reason: ValidationReason,
    /// The fields at fault.
    pub fields: Vec<FieldError>,
}

impl ValidationError {
    /// One field at fault.
    pub fn field(name: impl Into<String>, message: impl Into<String>) -> Self {
        let field = FieldError {
            name: name.into(),
            message: message.into(),
        };
        ValidationError {
            message: format!("{}: {}", field.name, field.message),
            reason: ValidationReason::FieldValidationFailed,
            fields: vec![field],
        }
    }

    /// Several fields at fault; `None` when the list is empty.
    pub fn from_fields(fields: Vec<FieldError>) -> Option<Self> {
        if fields.is_empty() {
            return None;
        }
        let message = fields
            .iter()
            .map(|f| format!("{}: {}", f.name, f.message))
            .collect::<Vec<_>>()
            .join("; ");
        Some(ValidationError {
            message,
            reason: ValidationReason::FieldValidationFailed,
            fields,
        })
    }

    /// A body that cannot be parsed.
    pub fn cannot_parse(message: impl Into<String>) -> Self {
        ValidationError {
            message: message.into(),
            reason: ValidationReason::CannotParse,
            fields: Vec::new(),
        }
    }

    /// Whether a field of this name is among those at fault.
    pub fn names(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f.name == field)
    }
}
