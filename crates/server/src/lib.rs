//! The JSON API and the wiring of a running Loupe.
//!
//! [`api::app`] is the router of `/api/v1/…` over a store; [`serve`] binds
//! the three listeners, opens the store and runs receiver, API and
//! retention until shutdown. Both the headless `loupe serve` and the desktop
//! shell call [`serve::run`].

pub mod api;
pub mod otlp_json;
pub mod serve;
