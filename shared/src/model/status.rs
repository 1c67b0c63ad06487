//! The statuses of the API (`AnomalyDetectorStatus`, `AnomalyDetectionTaskStatus`,
//! `AlertStatus`): one enum each, with the wire string written once. The same strings are
//! stored, so documents written before these types existed read the same.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Declares a status enum with its wire strings, `as_str`, `Display`, `FromStr` and serde as
/// those strings.
macro_rules! status {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            /// Every value, in the API model's order.
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            /// The wire (and stored) string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    other => Err(format!(
                        "{other:?} is not a {}",
                        stringify!($name)
                    )),
                }
            }
        }

        impl PartialEq<$name> for serde_json::Value {
            fn eq(&self, other: &$name) -> bool {
                self.as_str() == Some(other.as_str())
            }
        }
    };
}

status! {
    /// A detector's status (`AnomalyDetectorStatus`).
    DetectorStatus {
        /// Detecting every interval.
        Active = "ACTIVE",
        /// Learning from its history, asked for and not yet done.
        Activating = "ACTIVATING",
        /// Being deleted.
        Deleting = "DELETING",
        /// A run failed; the reason is stored beside it.
        Failed = "FAILED",
        /// Created, never activated.
        Inactive = "INACTIVE",
        /// Detecting, with less history than the cold start needs.
        Learning = "LEARNING",
        /// A backtest asked for and not yet done.
        BackTestActivating = "BACK_TEST_ACTIVATING",
        /// A backtest running.
        BackTestActive = "BACK_TEST_ACTIVE",
        /// A backtest done; its results are listed.
        BackTestComplete = "BACK_TEST_COMPLETE",
        /// Deactivated after running.
        Deactivated = "DEACTIVATED",
        /// Being deactivated.
        Deactivating = "DEACTIVATING",
    }
}

status! {
    /// An interval's detection run (`AnomalyDetectionTaskStatus`).
    ExecutionStatus {
        /// Not started.
        Pending = "PENDING",
        /// Ingested, not yet grouped.
        InProgress = "IN_PROGRESS",
        /// Grouped.
        Completed = "COMPLETED",
        /// Failed; the reason is stored beside it.
        Failed = "FAILED",
        /// Its schedule did not fire.
        FailedToSchedule = "FAILED_TO_SCHEDULE",
    }
}

status! {
    /// An alert's status (`AlertStatus`).
    AlertStatus {
        /// Sends.
        Active = "ACTIVE",
        /// Does not send.
        Inactive = "INACTIVE",
    }
}

impl DetectorStatus {
    /// Whether the detector detects intervals as they close (its schedule runs).
    pub fn is_running(self) -> bool {
        matches!(self, DetectorStatus::Active | DetectorStatus::Learning)
    }

    /// Whether a one-time run (an activation or a backtest) was asked for and is not done.
    pub fn is_pending_run(self) -> bool {
        matches!(
            self,
            DetectorStatus::Activating | DetectorStatus::BackTestActivating
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire strings, as the API model (`../shared/spec`) lists them: stored documents and
    /// clients depend on them, so they are written out here, not derived.
    #[test]
    fn wire_strings_are_the_api_models() {
        let detector: Vec<&str> = DetectorStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            detector,
            [
                "ACTIVE",
                "ACTIVATING",
                "DELETING",
                "FAILED",
                "INACTIVE",
                "LEARNING",
                "BACK_TEST_ACTIVATING",
                "BACK_TEST_ACTIVE",
                "BACK_TEST_COMPLETE",
                "DEACTIVATED",
                "DEACTIVATING"
            ]
        );
        let execution: Vec<&str> = ExecutionStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            execution,
            [
                "PENDING",
                "IN_PROGRESS",
                "COMPLETED",
                "FAILED",
                "FAILED_TO_SCHEDULE"
            ]
        );
        let alert: Vec<&str> = AlertStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(alert, ["ACTIVE", "INACTIVE"]);
    }

    #[test]
    fn serde_display_and_parsing_use_the_wire_strings() {
        for &s in DetectorStatus::ALL {
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json, serde_json::Value::from(s.as_str()));
            assert_eq!(
                serde_json::from_value::<DetectorStatus>(json.clone()).unwrap(),
                s
            );
            assert_eq!(s.to_string().parse::<DetectorStatus>(), Ok(s));
            assert!(json == s);
        }
        assert_eq!(
            "active".parse::<DetectorStatus>(),
            Err("\"active\" is not a DetectorStatus".to_string())
        );
        assert!(serde_json::Value::Null != DetectorStatus::Active);
    }
}
