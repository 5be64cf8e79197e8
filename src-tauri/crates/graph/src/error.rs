//! The one error type of `firebreak-graph`.
//!
//! Service errors keep everything an admin or a support engineer needs afterwards: the HTTP status,
//! Graph's error code and message, the `request-id` Microsoft support asks for, and the raw body as
//! received. A 403 becomes [`Error::PermissionDenied`], whose message names the missing permission
//! and the procedure steps it blocks (from [`crate::permissions`]).

use crate::permissions::{Operation, Resource};

/// What can go wrong talking to the tenant. Each message says what failed and what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service answered 403: the app or the signed-in admin lacks a permission or role.
    #[error("{explanation}{}", request_suffix(.request_id))]
    PermissionDenied {
        /// What was attempted.
        operation: Operation,
        /// Graph's (or Exchange's) error code, e.g. `Authorization_RequestDenied`.
        code: String,
        /// The service's own message.
        message: String,
        /// The `request-id` response header (or `innerError.request-id`).
        request_id: Option<String>,
        /// The response body exactly as received.
        raw: String,
        /// The admin-facing explanation from the permission table.
        explanation: String,
    },
    /// The service answered with an error status other than 403.
    #[error("{} refused to {} (HTTP {status}{}: {message}).{}{}", .operation.resource().name(), .operation.requirement().purpose, code_suffix(.code), advice(*.status, .code), request_suffix(.request_id))]
    Service {
        /// What was attempted.
        operation: Operation,
        /// The HTTP status.
        status: u16,
        /// The service's error code (empty when the body had none).
        code: String,
        /// The service's message (or the start of a non-JSON body). For Exchange, the cause from
        /// the error's details rather than its generic "Error executing cmdlet".
        message: String,
        /// The exception Exchange named as the cause (e.g.
        /// `Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException`); `None`
        /// for Graph and for Exchange answers that name none.
        exception: Option<String>,
        /// The `request-id` response header (or `innerError.request-id`).
        request_id: Option<String>,
        /// The response body exactly as received.
        raw: String,
    },
    /// The service kept throttling (429, or Exchange's plain-text "too many concurrent requests")
    /// after every retry Firebreak allows. The answer is kept as received, JSON or not.
    #[error("{} kept asking Firebreak to slow down while it tried to {} (HTTP {status}{}: {message}); Firebreak waited and tried {attempts} times. {}{}", .operation.resource().name(), .operation.requirement().purpose, code_suffix(.code), throttle_advice(.operation.resource(), *.retry_after), request_suffix(.request_id))]
    Throttled {
        /// What was attempted.
        operation: Operation,
        /// The HTTP status of the last answer.
        status: u16,
        /// How many times the request was sent.
        attempts: u32,
        /// The last `Retry-After`, in seconds, when the service gave one.
        retry_after: Option<u64>,
        /// The service's error code (empty for a plain-text answer).
        code: String,
        /// The service's message, or the start of the plain-text answer.
        message: String,
        /// The `request-id` response header (or `innerError.request-id`).
        request_id: Option<String>,
        /// The last response body exactly as received.
        raw: String,
    },
    /// Exchange answered 200 but reported the cmdlet's failure inside the answer
    /// (`@adminapi.errors`): the change may not have happened.
    #[error("{} reported an error while Firebreak tried to {}, although the request itself went through: {}. Firebreak reads the mailbox back to see what changed; run the step again if it is not done.", .operation.resource().name(), .operation.requirement().purpose, .messages.join("; "))]
    CmdletFailed {
        /// What was attempted.
        operation: Operation,
        /// Each error Exchange reported, its cause only.
        messages: Vec<String>,
        /// The body exactly as received.
        raw: String,
    },
    /// A successful response whose body was not what Microsoft documents.
    #[error("{} answered an unexpected response while Firebreak tried to {} ({detail}). The raw response is kept for support.", .operation.resource().name(), .operation.requirement().purpose)]
    Decode {
        /// What was attempted.
        operation: Operation,
        /// The parser's explanation.
        detail: String,
        /// The body exactly as received.
        raw: String,
    },
    /// The request did not get an HTTP answer (network, TLS, timeout).
    #[error("could not reach {} to {} ({detail}). Check the network connection and try again.", .operation.resource().name(), .operation.requirement().purpose)]
    Transport {
        /// What was attempted.
        operation: Operation,
        /// What the HTTP stack said.
        detail: String,
    },
    /// The Entra token endpoint refused to issue a token.
    #[error("sign-in to {} failed: {error}: {description}{}", .resource.name(), token_advice(.error, .description))]
    Token {
        /// Which audience the token was for.
        resource: Resource,
        /// The OAuth error code (`invalid_client`, `unauthorized_client`, ...).
        error: String,
        /// Entra's description, including its AADSTS code, trace and correlation ids.
        description: String,
    },
    /// The device-code sign-in ended without a token.
    #[error("{}", .0.message())]
    DeviceCode(DeviceCodeFailure),
    /// A value that must go into a URL or a filter is not well-formed; nothing was sent.
    #[error("{what} {value:?} is not valid: {reason}. Nothing was sent to the tenant.")]
    InvalidInput {
        /// What the value is ("user id", "rule id").
        what: &'static str,
        /// The value as given (attacker-controlled: shown with quotes and escapes).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A paging link pointed somewhere else than the service it came from; it was not followed so
    /// the access token is not sent to a stranger.
    #[error("{} returned a next-page link to another host ({link}); Firebreak stopped paging rather than send its token there.", .operation.resource().name())]
    ForeignLink {
        /// What was being paged.
        operation: Operation,
        /// The link as received.
        link: String,
    },
    /// The admin (or the application) cancelled the work.
    #[error("cancelled before Microsoft answered; nothing more was sent")]
    Cancelled,
    /// A certificate or key could not be made or read.
    #[error("the app certificate could not be used: {detail}. Create a new certificate in the tenant profile and upload it to the app registration.")]
    Certificate {
        /// What went wrong.
        detail: String,
    },
    /// The client was configured with something unusable.
    #[error("the tenant connection is misconfigured: {detail}")]
    Config {
        /// What is wrong, in the admin's words.
        detail: String,
    },
}

/// Why a device-code sign-in did not produce a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceCodeFailure {
    /// The user declined the sign-in in the browser.
    Declined,
    /// The code expired before anyone signed in (15 minutes by default).
    Expired,
    /// Entra rejected the device code itself.
    BadCode,
    /// Any other error Entra returned.
    Other {
        /// The OAuth error code.
        error: String,
        /// Entra's description.
        description: String,
    },
}

impl DeviceCodeFailure {
    fn message(&self) -> String {
        match self {
            Self::Declined => "the sign-in was declined in the browser. Start the sign-in again and approve it with the break-glass account.".into(),
            Self::Expired => "the sign-in code expired before it was used. Start the sign-in again and enter the new code within 15 minutes.".into(),
            Self::BadCode => "Entra did not recognise the sign-in code. Start the sign-in again.".into(),
            Self::Other { error, description } => format!("the device sign-in failed: {error}: {description}"),
        }
    }
}

fn request_suffix(request_id: &Option<String>) -> String {
    match request_id {
        Some(id) => format!(" (request id {id})"),
        None => String::new(),
    }
}

/// Whether a 403 says the tenant lacks a licence rather than a permission: the logs APIs' own code,
/// or Identity Protection's "not licensed for this feature" (spec/graph-behaviour.md,
/// "confirmCompromised").
pub(crate) fn is_licence_refusal(code: &str, message: &str) -> bool {
    code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        || (code == "Forbidden" && message.to_lowercase().contains("not licensed"))
}

fn advice(status: u16, code: &str) -> &'static str {
    match (status, code) {
        (_, "Authentication_RequestFromNonPremiumTenantOrB2CTenant") => {
            " Sign-in logs need Microsoft Entra ID P1 or P2 in this tenant."
        }
        (403, "Forbidden") => {
            " The tenant lacks the licence this needs: Identity Protection actions need Microsoft Entra ID P2. Without it, skip this step and record why."
        }
        (403, _) => "",
        (401, _) => " The access token was refused: check the tenant id and that the app registration still exists.",
        (404, _) => " The object does not exist (any more), or the id is wrong.",
        (503, _) | (504, _) => " Microsoft stayed unavailable after several retries: wait a few minutes and try again.",
        (s, _) if s >= 500 => " Microsoft had a problem answering: try again in a few minutes.",
        _ => "",
    }
}

fn code_suffix(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(" {code}")
    }
}

fn throttle_advice(resource: Resource, retry_after: Option<u64>) -> String {
    let wait = match retry_after {
        Some(secs) if secs > 0 => {
            format!("Microsoft last asked for {secs} seconds; wait at least that long")
        }
        _ => "Wait a few minutes".to_owned(),
    };
    match resource {
        Resource::Exchange => format!(
            "Exchange Online limits how many admin requests run at once in a tenant: close other Exchange admin sessions (PowerShell windows, scripts, other admin tools), {} and run this step again.",
            wait.to_lowercase()
        ),
        _ => format!("{wait}, then run this step again; running fewer checks at the same time helps."),
    }
}

fn token_advice(error: &str, description: &str) -> &'static str {
    if description.contains("AADSTS7000215") || description.contains("AADSTS7000222") {
        ". The client secret is wrong or expired: create a new one in the app registration and store it in the profile."
    } else if description.contains("AADSTS700027") || description.contains("AADSTS700024") {
        ". The certificate is not registered on the app (or the clock is wrong): upload the .cer file to the app registration."
    } else if description.contains("AADSTS90002") {
        ". The tenant was not found: check the tenant id or domain and the cloud in the profile."
    } else if description.contains("AADSTS700016") {
        ". The application (client) id was not found in this tenant: check the client id in the profile."
    } else if error == "invalid_client" {
        ". Check the client id and the credential in the tenant profile."
    } else {
        "."
    }
}

impl Error {
    /// The HTTP status, when the service answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::PermissionDenied { .. } => Some(403),
            Error::Service { status, .. } | Error::Throttled { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The service's error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::PermissionDenied { code, .. }
            | Error::Service { code, .. }
            | Error::Throttled { code, .. } => Some(code),
            Error::Token { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The service's own message (for Exchange, the cause from the error's details), when it
    /// answered with one.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::PermissionDenied { message, .. }
            | Error::Service { message, .. }
            | Error::Throttled { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The `request-id` to quote to Microsoft support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::PermissionDenied { request_id, .. }
            | Error::Service { request_id, .. }
            | Error::Throttled { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The response body exactly as received, when there was one.
    pub fn raw_body(&self) -> Option<&str> {
        match self {
            Error::PermissionDenied { raw, .. }
            | Error::Service { raw, .. }
            | Error::Throttled { raw, .. }
            | Error::CmdletFailed { raw, .. }
            | Error::Decode { raw, .. } => Some(raw),
            _ => None,
        }
    }

    /// Whether the object asked for does not exist: a 404, a `NotFound` code, or Exchange naming
    /// its not-found exception whatever the status.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Service {
                status,
                code,
                exception,
                ..
            } => {
                *status == 404
                    || code.contains("NotFound")
                    || exception
                        .as_deref()
                        .is_some_and(|e| e.ends_with("ObjectNotFoundException"))
            }
            _ => false,
        }
    }

    /// Whether the service was still throttling when Firebreak gave up.
    pub fn is_throttled(&self) -> bool {
        matches!(self, Error::Throttled { .. })
    }

    /// Whether the tenant lacks the licence (Entra ID P1/P2) the operation needs.
    pub fn is_premium_required(&self) -> bool {
        matches!(self, Error::Service { code, message, .. } | Error::PermissionDenied { code, message, .. }
            if is_licence_refusal(code, message))
    }
}
