//! The operations, one module per resource: each validates its request, then reads or writes
//! the store. Every constraint of the model is checked before anything is written. Operations
//! import the state, the request readers, paging and the error; never the router.

pub(crate) mod alert;
pub(crate) mod detector;
pub(crate) mod feedback;
pub(crate) mod metric_set;
pub(crate) mod results;
pub(crate) mod source;
pub(crate) mod tags;
