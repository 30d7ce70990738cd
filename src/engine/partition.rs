//! Partitioned replicas: which records an engine opened for some accounts keeps.
//!
//! Filtering happens when records arrive (the load, a catch-up read), never on a check: the
//! index of a partitioned replica is an ordinary index that happens to hold fewer accounts.

use std::collections::{HashMap, HashSet};

use crate::engine::index::Index;
use crate::model::ids::{AccountId, IdHash};
use crate::model::mutation::{Key, Mutation};
use crate::model::permission::Catalog;

/// The accounts a partitioned replica serves.
#[derive(Clone, Debug)]
pub(crate) struct Partition {
    accounts: HashSet<AccountId, IdHash>,
}

impl Partition {
    pub(crate) fn new(accounts: impl IntoIterator<Item = AccountId>) -> Self {
        let mut set = HashSet::with_hasher(IdHash);
        set.extend(accounts);
        Partition { accounts: set }
    }

    /// Whether records of `account` are kept.
    pub(crate) fn serves(&self, account: AccountId) -> bool {
        self.accounts.contains(&account)
    }

    /// The account a put writes into; `None` for a remove, which names only an id.
    fn account_of<P: Catalog>(m: &Mutation<P>) -> Option<AccountId> {
        Some(match m {
            Mutation::PutAccount(x) => x.id(),
            Mutation::PutStore(x) => x.account(),
            Mutation::PutSource(x) => x.account(),
            Mutation::PutChannel(x) => x.account(),
            Mutation::PutRole(x) => x.account(),
            Mutation::PutUser(x) => x.account(),
            _ => return None,
        })
    }

    /// The records of a load that belong to the served accounts. A load holds only puts.
    pub(crate) fn keep_loaded<P: Catalog>(&self, records: Vec<Mutation<P>>) -> Vec<Mutation<P>> {
        records
            .into_iter()
            .filter(|m| Self::account_of(m).is_some_and(|a| self.serves(a)))
            .collect()
    }

    /// The mutations of `batches`, stored in this order after the state `index` shows, that
    /// belong to the served accounts, batch by batch.
    ///
    /// A put carries its account. A remove names only an id: it is kept if the object is held
    /// here at that point of the sequence — in `index`, or put (in a served account) by an
    /// earlier kept mutation and not removed since. Otherwise the id belongs to another account
    /// (or was put into one later: the full engine refuses moving an id, but a removed id may
    /// be used again in another account).
    pub(crate) fn keep_batches<'a, P: Catalog>(
        &self,
        index: &Index<P>,
        batches: impl IntoIterator<Item = &'a [Mutation<P>]>,
    ) -> Vec<Vec<Mutation<P>>> {
        // Whether a key is held after the mutations seen so far; absent: as `index` says.
        let mut held: HashMap<Key, bool> = HashMap::new();
        batches
            .into_iter()
            .map(|batch| {
                batch
                    .iter()
                    .filter(|m| {
                        let key = m.key();
                        let keep = match Self::account_of(m) {
                            Some(account) => self.serves(account),
                            None => held.get(&key).copied().unwrap_or_else(|| index.holds(m)),
                        };
                        held.insert(key, keep && !m.is_remove());
                        keep
                    })
                    .cloned()
                    .collect()
            })
            .collect()
    }
}

impl<P: Catalog> Index<P> {
    /// Whether the object a mutation writes exists in this index.
    pub(crate) fn holds(&self, m: &Mutation<P>) -> bool {
        match m {
            Mutation::PutAccount(x) => self.accounts.contains_key(&x.id()),
            Mutation::RemoveAccount(id) => self.accounts.contains_key(id),
            Mutation::PutStore(x) => self.stores.contains_key(&x.id()),
            Mutation::RemoveStore(id) => self.stores.contains_key(id),
            Mutation::PutSource(x) => self.sources.contains_key(&x.id()),
            Mutation::RemoveSource(id) => self.sources.contains_key(id),
            Mutation::PutChannel(x) => self.channels.contains_key(&x.id()),
            Mutation::RemoveChannel(id) => self.channels.contains_key(id),
            Mutation::PutRole(x) => self.roles.contains_key(&x.id()),
            Mutation::RemoveRole(id) => self.roles.contains_key(id),
            Mutation::PutUser(x) => self.users.contains_key(&x.id()),
            Mutation::RemoveUser(id) => self.users.contains_key(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::pos::Pos;
    use crate::model::account::Account;
    use crate::model::ids::UserId;
    use crate::model::user::User;

    const A: AccountId = AccountId::new(1);
    const B: AccountId = AccountId::new(2);

    fn user(id: u64, account: AccountId) -> Mutation<Pos> {
        Mutation::PutUser(User::new(
            UserId::new(id),
            account,
            &format!("u{id}"),
            &format!("u{id}@example.com"),
        ))
    }

    #[test]
    fn a_removed_id_used_again_in_another_account_is_followed_across_batches() {
        let part = Partition::new([A]);
        let index = Index::<Pos>::empty();
        let remove = Mutation::RemoveUser(UserId::new(7));
        let batches: Vec<Vec<Mutation<Pos>>> = vec![
            vec![Mutation::PutAccount(Account::new(A, "a")), user(7, A)],
            vec![remove.clone(), user(7, B)],
            vec![remove.clone(), user(7, A)],
            vec![remove.clone()],
        ];
        let kept = part.keep_batches(&index, batches.iter().map(Vec::as_slice));
        assert_eq!(kept[0].len(), 2);
        // Removed here, then put into `B`: only the remove is this replica's.
        assert_eq!(kept[1], vec![remove.clone()]);
        // A remove of `B`'s user is skipped; the put into `A` kept.
        assert_eq!(kept[2], vec![user(7, A)]);
        assert_eq!(kept[3], vec![remove]);
    }

    #[test]
    fn a_load_keeps_the_records_of_served_accounts_only() {
        let part = Partition::new([B]);
        let kept = part.keep_loaded(vec![
            Mutation::<Pos>::PutAccount(Account::new(A, "a")),
            Mutation::PutAccount(Account::new(B, "b")),
            user(1, A),
            user(2, B),
        ]);
        assert_eq!(
            kept,
            vec![Mutation::PutAccount(Account::new(B, "b")), user(2, B)]
        );
    }
}
