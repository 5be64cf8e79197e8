//! A thin, typed client for the services Firebreak acts on: Microsoft Graph (v1.0 and the beta
//! operations it needs), the Exchange Online admin `InvokeCommand` endpoint and the Entra token
//! endpoints, for every national cloud and for a custom base URL (the training tenant).
//!
//! This crate will own the wire models (named after Graph's own resources), paging through
//! `@odata.nextLink`, OData escaping, the retry policy, token acquisition and caching, and the error
//! type that keeps Graph's status, code, message and request id. It knows nothing of cases,
//! procedures or Tauri.
