//! The checker the four seed examples share (`pos_outlets`, `omnichannel_groups`,
//! `payments_portal`, `oms_hierarchy`).
//!
//! Each example walks through the situations of one seed help page. For every situation it
//! writes down what the page says should happen, asks the engine, and prints one line: `ok ` or
//! `BAD`, a short description, and the engine's decision or error message. [`Seed::finish`]
//! prints the count and fails if any outcome differs from the seed. A difference already
//! reported as a library bug is printed as `DEV` ([`Seed::deviation`]) and does not fail.
//!
//! This directory has no `main.rs`, so Cargo does not build it as an example of its own.

use std::fmt::Display;

use shopguard::{
    Applied, Catalog, Change, Decision, DenyReason, Engine, ErrorKind, Resource, UserId,
};

/// The situations seen so far and how many differ from the seed.
#[derive(Debug, Default)]
pub(crate) struct Seed {
    seen: usize,
    differ: usize,
}

impl Seed {
    /// Starts a walk-through, printing its title.
    pub(crate) fn new(title: &str) -> Self {
        println!("{title}");
        Seed::default()
    }

    /// Prints a heading for the situations that follow.
    pub(crate) fn section(&self, title: &str) {
        println!("\n-- {title}");
    }

    /// Prints a remark that is not a situation (nothing is checked).
    pub(crate) fn note(&self, text: &str) {
        println!("    note: {text}");
    }

    /// Records one situation: `matches` says whether the outcome is the one the seed describes.
    pub(crate) fn expect(&mut self, what: &str, matches: bool, outcome: impl Display) {
        self.seen += 1;
        let mark = if matches {
            "ok "
        } else {
            self.differ += 1;
            "BAD"
        };
        println!("{mark} {what:<66} {outcome}");
    }

    /// The seed says `user` may do `permission` on `resource`.
    pub(crate) fn allow<P: Catalog, R: Resource + ?Sized>(
        &mut self,
        engine: &Engine<P>,
        what: &str,
        user: UserId,
        permission: P,
        resource: &R,
    ) {
        let got = engine.check(user, permission, resource);
        let agrees = engine.can(user, permission, resource) == got.is_allowed();
        self.expect(what, got.is_allowed() && agrees, shown(engine, got, agrees));
    }

    /// The seed says `user` may not do `permission` on `resource`, for `reason`.
    pub(crate) fn deny<P: Catalog, R: Resource + ?Sized>(
        &mut self,
        engine: &Engine<P>,
        what: &str,
        user: UserId,
        permission: P,
        resource: &R,
        reason: DenyReason,
    ) {
        let got = engine.check(user, permission, resource);
        let agrees = engine.can(user, permission, resource) == got.is_allowed();
        self.expect(
            what,
            got == Decision::Deny(reason) && agrees,
            shown(engine, got, agrees),
        );
    }

    /// The seed says `actor` may make `change`. Returns what was applied, if it was.
    pub(crate) fn applies<P: Catalog>(
        &mut self,
        engine: &Engine<P>,
        what: &str,
        actor: UserId,
        change: Change<P>,
    ) -> Option<Applied> {
        match engine.apply(actor, change) {
            Ok(applied) => {
                self.expect(
                    what,
                    true,
                    format!("applied (revision {})", applied.revision()),
                );
                Some(applied)
            }
            Err(err) => {
                self.expect(what, false, format!("refused ({:?}): {err}", err.kind()));
                None
            }
        }
    }

    /// The seed says `actor` may not make `change`; the rule that refuses it is `kind`. A refused
    /// change must leave the engine as it was.
    pub(crate) fn refuses<P: Catalog>(
        &mut self,
        engine: &Engine<P>,
        what: &str,
        actor: UserId,
        change: Change<P>,
        kind: ErrorKind,
    ) {
        let before = engine.revision();
        match engine.apply(actor, change) {
            Ok(applied) => self.expect(
                what,
                false,
                format!(
                    "applied (revision {}), expected {kind:?}",
                    applied.revision()
                ),
            ),
            Err(err) => {
                let unchanged = engine.revision() == before;
                let mut text = format!("refused ({:?}): {err}", err.kind());
                if !unchanged {
                    text.push_str(" [but the engine changed]");
                }
                self.expect(what, err.kind() == kind && unchanged, text);
            }
        }
    }

    /// Prints the summary line; an error if any outcome differed from the seed.
    pub(crate) fn finish(self) -> Result<(), Box<dyn std::error::Error>> {
        println!(
            "\n{} situations, {} differ from the seed",
            self.seen, self.differ
        );
        if self.differ > 0 {
            return Err(format!("{} situations differ from the seed", self.differ).into());
        }
        Ok(())
    }
}

/// A decision with the allowing role's name rather than its id.
fn shown<P: Catalog>(engine: &Engine<P>, decision: Decision, agrees: bool) -> String {
    let mut text = match decision {
        Decision::Allow(a) => {
            let snapshot = engine.snapshot();
            let role = snapshot.role(a.role()).map_or("?", |r| r.name());
            format!("allow (grant {}, role `{role}`)", a.grant())
        }
        Decision::Deny(reason) => format!("deny: {reason}"),
    };
    if !agrees {
        text.push_str(" [but can() says otherwise]");
    }
    text
}

/// Names, for comparing listings: `["North", "South"]`.
pub(crate) fn names<'a, I: IntoIterator<Item = &'a str>>(items: I) -> Vec<String> {
    items.into_iter().map(str::to_owned).collect()
}
