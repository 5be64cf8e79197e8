//! A thin, typed client for the services Firebreak acts on: Microsoft Graph (v1.0 and the beta
//! operations it needs), the Exchange Online admin `InvokeCommand` endpoint and the Entra token
//! endpoints, for every national cloud and for a custom base URL (the training tenant).
//!
//! It owns the wire models (named after Graph's own resources), paging through `@odata.nextLink`,
//! OData escaping and id validation, the retry policy, token acquisition and caching, the
//! permission table, and the error type that keeps Graph's status, code, message, request id and
//! raw body. It knows nothing of cases, procedures or Tauri.
//!
//! Map: [`client`] (configuration, request loop, paging), [`auth`] (credentials, certificates,
//! device code, tokens), [`cloud`], [`odata`], [`retry`], [`permissions`] (what each operation
//! needs), [`roles`] (which directory role a write needs on one account), and one module per
//! resource area: [`directory`], [`applications`], [`methods`], [`mail`], [`logs`], [`security`], [`exchange`].

pub mod applications;
pub mod auth;
pub mod client;
pub mod clock;
pub mod cloud;
pub mod directory;
pub mod error;
pub mod exchange;
pub mod logs;
pub mod mail;
pub mod methods;
pub mod odata;
pub mod permissions;
pub mod retry;
pub mod roles;
pub mod security;

pub use auth::{
    decode_claims, ClientCertificate, Credentials, DeviceCodePrompt, DeviceCodeSignIn, TokenClaims,
};
pub use client::{collect_items, Client, ClientConfig, Page, PageStream};
pub use clock::{Clock, SystemClock};
pub use cloud::{Cloud, Endpoints};
pub use error::{DeviceCodeFailure, Error};
pub use odata::UserRef;
pub use permissions::{Operation, Requirement, Resource, Step};
pub use retry::RetryPolicy;
pub use secrecy::{ExposeSecret, SecretString};
pub use tokio_util::sync::CancellationToken;
