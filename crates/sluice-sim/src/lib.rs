//! Simulators of the SaaS apps Sluice connects to, speaking their real wire
//! formats: a local org for development, demos and tests.
//!
//! - [`salesforce`]: OAuth, SOAP login, REST (sObjects, query, composite),
//!   limits, change events.

pub mod salesforce;
pub mod server;
