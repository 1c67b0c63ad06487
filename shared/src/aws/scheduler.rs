//! The EventBridge Scheduler adapter: one schedule per active detector, in the stack's
//! schedule group, targeting the ingest function through the scheduler's role.

use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target,
};

use super::describe;
use crate::ports::{BoxFuture, ScheduleSpec, Schedules};

/// Schedules in EventBridge Scheduler.
#[derive(Debug, Clone)]
pub struct EventBridgeSchedules {
    client: Client,
    group: String,
    target_arn: String,
    role_arn: String,
}

impl EventBridgeSchedules {
    /// Schedules in `group` invoking `target_arn` (the ingest function) as `role_arn`.
    pub fn new(
        config: &aws_config::SdkConfig,
        group: impl Into<String>,
        target_arn: impl Into<String>,
        role_arn: impl Into<String>,
    ) -> Self {
        EventBridgeSchedules {
            client: Client::new(config),
            group: group.into(),
            target_arn: target_arn.into(),
            role_arn: role_arn.into(),
        }
    }

    /// The client (for tests that read schedules back).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn upsert(&self, spec: &ScheduleSpec) -> Result<(), String> {
        let target = Target::builder()
            .arn(&self.target_arn)
            .role_arn(&self.role_arn)
            .input(&spec.input)
            .build()
            .map_err(|e| e.to_string())?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| e.to_string())?;
        let created = self
            .client
            .create_schedule()
            .group_name(&self.group)
            .name(&spec.name)
            .schedule_expression(&spec.expression)
            .schedule_expression_timezone(&spec.timezone)
            .flexible_time_window(window.clone())
            .target(target.clone())
            .description(&spec.description)
            .action_after_completion(after(spec))
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conflict_exception()) =>
            {
                self.client
                    .update_schedule()
                    .group_name(&self.group)
                    .name(&spec.name)
                    .schedule_expression(&spec.expression)
                    .schedule_expression_timezone(&spec.timezone)
                    .flexible_time_window(window)
                    .target(target)
                    .description(&spec.description)
                    .action_after_completion(after(spec))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| describe(&e))
            }
            Err(e) => Err(describe(&e)),
        }
    }
}

/// A one-time schedule deletes itself once it fired.
fn after(spec: &ScheduleSpec) -> ActionAfterCompletion {
    if spec.once {
        ActionAfterCompletion::Delete
    } else {
        ActionAfterCompletion::None
    }
}

impl Schedules for EventBridgeSchedules {
    fn put<'a>(&'a self, spec: &'a ScheduleSpec) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(self.upsert(spec))
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            match self
                .client
                .delete_schedule()
                .group_name(&self.group)
                .name(name)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    Ok(())
                }
                Err(e) => Err(describe(&e)),
            }
        })
    }
}
