//! The DynamoDB adapter of the storage port: one table, partition key `pk` (the kind's name),
//! sort key `sk` (the document's key), the document as JSON text in `doc`. Creates and
//! compare-and-swap replaces are conditional writes, so two writers never lose an update;
//! lists are paginated queries on the kind's partition.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType,
};
use serde_json::Value;

use super::describe;
use crate::ports::{Kind, Store, StoreError};

/// Documents in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn backend<E, R>(e: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> StoreError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error,
{
    StoreError::Backend(format!("dynamodb: {}", describe(&e)))
}

impl DynamoStore {
    /// The store on `table` (its name, as in the `SEISMO_TABLE` variable).
    pub fn new(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        DynamoStore {
            client: Client::new(config),
            table: table.into(),
        }
    }

    /// Creates the table as template.yaml declares it (on-demand, `pk`/`sk`) when it does not
    /// exist: for tests and local emulators; deployments get it from the template.
    pub async fn ensure_table(&self) -> Result<(), StoreError> {
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))
        };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(backend(e)),
        }
    }

    fn item_doc(item: &HashMap<String, AttributeValue>) -> Result<Value, StoreError> {
        let text = item
            .get("doc")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| StoreError::Backend("dynamodb: an item without doc".into()))?;
        serde_json::from_str(text).map_err(|e| StoreError::Backend(format!("dynamodb: {e}")))
    }

    fn put_request(
        &self,
        kind: Kind,
        key: &str,
        value: &Value,
    ) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(kind.name()))
            .item("sk", s(key))
            .item("doc", s(value.to_string()))
    }
}

impl Store for DynamoStore {
    async fn get(&self, kind: Kind, key: &str) -> Result<Option<Value>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(kind.name()))
            .key("sk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        out.item().map(Self::item_doc).transpose()
    }

    async fn create(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        match self
            .put_request(kind, key, &value)
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Exists)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn put(&self, kind: Kind, key: &str, value: Value) -> Result<(), StoreError> {
        self.put_request(kind, key, &value)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn replace(
        &self,
        kind: Kind,
        key: &str,
        expected: Option<&Value>,
        value: Value,
    ) -> Result<(), StoreError> {
        let request = self.put_request(kind, key, &value);
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(old) => request
                .condition_expression("doc = :old")
                .expression_attribute_values(":old", s(old.to_string())),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Changed)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn delete(&self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(kind.name()))
            .key("sk", s(key))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.attributes().is_some_and(|a| !a.is_empty()))
    }

    async fn list(&self, kind: Kind, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(kind.name()))
                .set_exclusive_start_key(start.take());
            query = if prefix.is_empty() {
                query.key_condition_expression("pk = :pk")
            } else {
                query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix))
            };
            let page = query.send().await.map_err(backend)?;
            for item in page.items() {
                let key = item
                    .get("sk")
                    .and_then(|v| v.as_s().ok())
                    .ok_or_else(|| StoreError::Backend("dynamodb: an item without sk".into()))?;
                out.push((key.clone(), Self::item_doc(item)?));
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }
}
