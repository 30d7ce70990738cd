//! Tracing (feature `tracing`): one span per write ([`Engine::apply`](crate::Engine::apply)
//! and the other write paths), per commit, per catch-up read of a follower, per CSV upload and
//! per open, with ids, revisions, the outcome and the duration. Usernames and e-mails never
//! appear above the debug level: spans carry ids and counts; a refusal's message, which may
//! name users, is a debug event.
//!
//! Without the feature every call here is empty and the types have no fields.

use crate::Error;
use crate::model::ids::{AccountId, UserId};

/// A span being timed; finished with its outcome. Without the feature, nothing.
pub(crate) struct Traced {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    #[cfg(feature = "tracing")]
    start: std::time::Instant,
}

#[cfg(feature = "tracing")]
macro_rules! traced {
    ($level:ident, $name:literal $(, $field:ident = $value:expr)* $(,)?) => {
        Traced {
            span: tracing::span!(
                tracing::Level::$level,
                $name,
                $($field = $value,)*
                revision = tracing::field::Empty,
                outcome = tracing::field::Empty,
                duration_us = tracing::field::Empty,
            ),
            start: std::time::Instant::now(),
        }
    };
}

impl Traced {
    /// `shopguard.apply`: a batch of changes by an actor (`apply`, `apply_all`,
    /// `apply_based_on`).
    pub(crate) fn apply(actor: UserId, account: Option<AccountId>, changes: usize) -> Self {
        #[cfg(feature = "tracing")]
        {
            traced!(
                INFO,
                "shopguard.apply",
                actor = actor.get(),
                account = account.map(AccountId::get),
                changes = changes,
            )
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = (actor, account, changes);
            Traced {}
        }
    }

    /// `shopguard.unchecked_apply`: a batch written without authorization, as a system.
    pub(crate) fn unchecked(system: &str, mutations: usize) -> Self {
        #[cfg(feature = "tracing")]
        {
            traced!(
                INFO,
                "shopguard.unchecked_apply",
                system = system,
                mutations = mutations,
            )
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = (system, mutations);
            Traced {}
        }
    }

    /// `shopguard.commit`: one batch handed to storage, with its retries.
    pub(crate) fn commit(base: u64) -> Self {
        #[cfg(feature = "tracing")]
        {
            traced!(
                INFO,
                "shopguard.commit",
                base = base,
                attempts = tracing::field::Empty,
                mutations = tracing::field::Empty,
            )
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = base;
            Traced {}
        }
    }

    /// `shopguard.follow`: a follower's catch-up read from revision `from`; at the info level
    /// when the store reported a change, at the debug level for a periodic read.
    pub(crate) fn follow(from: u64, reported: bool) -> Self {
        #[cfg(feature = "tracing")]
        {
            if reported {
                traced!(INFO, "shopguard.follow", from = from, reported = true)
            } else {
                traced!(DEBUG, "shopguard.follow", from = from, reported = false)
            }
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = (from, reported);
            Traced {}
        }
    }

    /// `shopguard.upload`: a CSV upload of `of` (`users`, `sources`).
    #[cfg_attr(
        not(feature = "csv"),
        expect(dead_code, reason = "only the CSV uploads are traced as uploads")
    )]
    pub(crate) fn upload(
        of: &'static str,
        actor: UserId,
        account: Option<AccountId>,
        bytes: usize,
    ) -> Self {
        #[cfg(feature = "tracing")]
        {
            traced!(
                INFO,
                "shopguard.upload",
                of = of,
                actor = actor.get(),
                account = account.map(AccountId::get),
                bytes = bytes,
                created = tracing::field::Empty,
                updated = tracing::field::Empty,
                deleted = tracing::field::Empty,
            )
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = (of, actor, account, bytes);
            Traced {}
        }
    }

    /// `shopguard.open`: an engine loading its store.
    pub(crate) fn open(partitioned: bool) -> Self {
        #[cfg(feature = "tracing")]
        {
            traced!(
                INFO,
                "shopguard.open",
                partitioned = partitioned,
                records = tracing::field::Empty,
                following = tracing::field::Empty,
            )
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = partitioned;
            Traced {}
        }
    }

    /// Runs `f` inside the span: spans and events in it are its children.
    pub(crate) fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        #[cfg(feature = "tracing")]
        {
            self.span.in_scope(f)
        }
        #[cfg(not(feature = "tracing"))]
        {
            f()
        }
    }

    /// Records a number the span declared (`account`, `attempts`, `created`, …).
    pub(crate) fn record(&self, field: &'static str, value: u64) {
        #[cfg(feature = "tracing")]
        self.span.record(field, value);
        #[cfg(not(feature = "tracing"))]
        let _ = (field, value);
    }

    /// Records a flag the span declared (`following`).
    pub(crate) fn record_flag(&self, field: &'static str, value: bool) {
        #[cfg(feature = "tracing")]
        self.span.record(field, value);
        #[cfg(not(feature = "tracing"))]
        let _ = (field, value);
    }

    /// Ends the span: its revision, `outcome` (`done` or the error kind's
    /// [code](crate::ErrorKind::code)) and duration in microseconds. A refusal's message is a
    /// debug event: it may name users.
    pub(crate) fn finish<T>(self, result: &Result<T, Error>, revision: impl Fn(&T) -> u64) {
        #[cfg(feature = "tracing")]
        {
            let span = &self.span;
            match result {
                Ok(value) => {
                    span.record("revision", revision(value));
                    span.record("outcome", "done");
                }
                Err(err) => {
                    span.record("outcome", err.kind().code());
                    if let Some(r) = err.revision() {
                        span.record("revision", r);
                    }
                    tracing::debug!(parent: span, error = %err, "refused");
                }
            }
            let micros = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
            span.record("duration_us", micros);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (result, revision);
    }

    /// A detail for debugging, which may name users: a debug event in the span.
    pub(crate) fn detail(&self, what: &dyn core::fmt::Display) {
        #[cfg(feature = "tracing")]
        tracing::debug!(parent: &self.span, detail = %what);
        #[cfg(not(feature = "tracing"))]
        let _ = what;
    }
}

/// Runs `f` on a new thread's behalf with the caller's tracing dispatcher, so that a thread
/// the engine starts (a follower) reports where its engine's opener does.
pub(crate) fn inherit() -> impl FnOnce(&mut dyn FnMut()) + Send + 'static {
    #[cfg(feature = "tracing")]
    {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        move |f: &mut dyn FnMut()| tracing::dispatcher::with_default(&dispatch, f)
    }
    #[cfg(not(feature = "tracing"))]
    {
        |f: &mut dyn FnMut()| f()
    }
}
