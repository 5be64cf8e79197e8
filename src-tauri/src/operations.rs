//! Long operations the UI can cancel: each registers a cancel token under an id the UI chose,
//! and `cancel_operation` trips it. The registry's lock is held only to insert, look up and remove.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use firebreak_core::bundle::CancellationToken;

use crate::ipc::{IpcError, IpcErrorKind};

/// The operations running now, by id.
#[derive(Debug, Clone, Default)]
pub struct Operations {
    running: Arc<Mutex<HashMap<String, CancellationToken>>>,
}

/// A registered operation; unregisters itself when dropped.
#[derive(Debug)]
pub struct Running {
    operations: Operations,
    id: String,
    token: CancellationToken,
}

impl Operations {
    /// Registers operation `id`. Ids are short strings the UI generates; a duplicate is refused.
    pub fn begin(&self, id: &str) -> Result<Running, IpcError> {
        if id.is_empty() || id.len() > 64 {
            return Err(IpcError {
                kind: IpcErrorKind::Invalid,
                message: "An operation id must be 1 to 64 characters.".into(),
            });
        }
        let token = CancellationToken::new();
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.contains_key(id) {
            return Err(IpcError {
                kind: IpcErrorKind::Failed,
                message: "This operation is already running.".into(),
            });
        }
        running.insert(id.to_owned(), token.clone());
        Ok(Running {
            operations: self.clone(),
            id: id.to_owned(),
            token,
        })
    }

    /// Asks operation `id` to stop. False when no such operation is running.
    pub fn cancel(&self, id: &str) -> bool {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.get(id).map(CancellationToken::cancel).is_some()
    }
}

impl Running {
    /// The token the operation checks.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.operations
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelling_reaches_the_running_operation_and_ends_with_it() {
        let ops = Operations::default();
        let running = ops.begin("export-1").expect("begin");
        assert!(ops.begin("export-1").is_err(), "one operation per id");
        assert!(ops.cancel("export-1"));
        assert!(running.token().is_cancelled());
        drop(running);
        assert!(
            !ops.cancel("export-1"),
            "a finished operation is no longer registered"
        );
    }
}
