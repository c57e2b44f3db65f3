//! The event bus (EventBridge-compatible) and queues (SQS-compatible).
//!
//! - [`buses::EventBusService`]: buses, rules, targets, permissions, tags;
//!   [`put_events`] turns entries into events and stores one delivery per
//!   matched target (group commit) before PutEvents answers; [`routing`]
//!   caches each bus's compiled rules; [`connections`] holds connections and
//!   API destinations (secrets sealed).
//! - [`delivery::Deliverer`] delivers stored events to [`targets`] at least
//!   once, with retries, dead-letter queues and leases shared through the
//!   store (several servers on one PostgreSQL never deliver one twice at once).
//! - [`schedules`]: rules with a ScheduleExpression fire "Scheduled Event"s.
//! - [`archives`] keep matching events (written with their deliveries);
//!   [`replays`] send them to their bus again, resumable and cancellable.
//! - [`queues::QueueService`]: SQS standard queues.
//!
//! Patterns and input transformation are `sluice_model::events`; the
//! outbound-address guard is `sluice_net`.

pub mod archives;
pub mod arn;
pub mod buses;
pub mod connections;
pub mod dead_letters;
pub mod delivery;
pub mod error;
mod md5;
pub mod partner_sources;
pub mod policy;
pub mod put_events;
pub mod queues;
pub mod replays;
pub mod routing;
pub mod schedules;
pub mod targets;
mod token;

pub use buses::EventBusService;
pub use delivery::{Deliverer, DeliveryConfig};
pub use error::{BusError, BusResult};
pub use put_events::NewEvent;
pub use queues::QueueService;
pub use targets::{FlowStarter, TargetError};
