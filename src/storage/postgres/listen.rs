//! The LISTEN/NOTIFY listener thread, and the wait for a change that it wakes.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use postgres::Config;
use postgres::fallible_iterator::FallibleIterator;

use super::tls::Connector;
use super::{Shared, lock};

/// How long the listener waits for a notification before looking at its stop flag.
const LISTEN_TICK: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
pub(super) struct Notified {
    /// The highest revision announced by a notification.
    revision: u64,
    /// How many times the listener has (re)connected: after a reconnect, notifications may
    /// have been missed, and waiters should read.
    connects: u64,
}

/// The listener thread: LISTEN, and wake waiters on every notification and every reconnect.
pub(super) fn listen(config: &Config, connector: &Connector, channel: &str, shared: &Shared) {
    let mut backoff = Duration::from_millis(50);
    while !shared.stop.load(Ordering::Acquire) {
        let mut client = match connector.connect(config) {
            Ok(client) => client,
            Err(_) => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        if client
            .batch_execute(&format!("LISTEN \"{channel}\""))
            .is_err()
        {
            std::thread::sleep(backoff);
            continue;
        }
        backoff = Duration::from_millis(50);
        {
            // Anything stored while not listening is read by the waiters' catch-up.
            let mut n = lock(&shared.notified);
            n.connects += 1;
            shared.changed.notify_all();
        }
        while !shared.stop.load(Ordering::Acquire) {
            let next = client.notifications().timeout_iter(LISTEN_TICK).next();
            match next {
                Ok(Some(note)) => {
                    if let Ok(revision) = note.payload().parse::<u64>() {
                        let mut n = lock(&shared.notified);
                        n.revision = n.revision.max(revision);
                        shared.changed.notify_all();
                    }
                }
                Ok(None) if !client.is_closed() => {}
                // The connection dropped: connect again.
                Ok(None) | Err(_) => break,
            }
        }
    }
}

impl Shared {
    /// [`Storage::wait_for_change`](crate::storage::Storage::wait_for_change): waits until the
    /// listener announces a revision after `after` or reconnects, or `timeout` passes.
    pub(super) fn wait_for_change(&self, after: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout.min(crate::storage::LONGEST_WAIT);
        let mut n = lock(&self.notified);
        let connects = n.connects;
        while n.revision <= after && n.connects == connects {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            n = self
                .changed
                .wait_timeout(n, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        n.revision > after || n.connects != connects
    }
}
