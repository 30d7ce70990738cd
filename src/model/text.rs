//! The one case-folding rule: usernames, e-mails and role names are compared by their
//! Unicode-lowercased characters, so `ÄRGER` and `ärger` are the same name everywhere (uniqueness,
//! lookup by name, CSV cells).

/// `text` with every character lowercased: the key names are unique and looked up by.
pub(crate) fn folded(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// Whether `a` and `b` are equal by [`folded`], without allocating.
pub(crate) fn same_folded(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        // The common case, and cheap: lengths first, then bytes.
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_unicode_case() {
        assert!(same_folded("ÄRGER", "ärger"));
        assert!(same_folded("Till", "tILL"));
        assert!(!same_folded("Till", "Till "));
        assert_eq!(folded("ÄRGER"), "ärger");
    }
}
