//! Simulators of the SaaS apps Sluice connects to, speaking their real wire
//! formats: a local org for development, demos and tests.
//!
//! - [`salesforce`]: OAuth, SOAP login, REST (sObjects, query, composite),
//!   limits, change events.
//! - [`marketo`]: identity, leads (describe, filter, sync, push, delete),
//!   activities with paging tokens, bulk lead export, rate limits and quotas.

pub mod demo_names;
pub mod marketo;
pub mod salesforce;
pub mod server;
pub mod state_file;
