//! Name lists the demo seeds of every simulator draw from.

/// Given names.
pub const FIRST_NAMES: &[&str] = &[
    "Ava", "Ben", "Chloe", "Diego", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kara", "Liam", "Maya", "Noah",
    "Olga", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe",
];
/// Family names.
pub const LAST_NAMES: &[&str] = &[
    "Adams", "Berg", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski", "Lopez",
    "Meyer", "Nakamura", "Okafor", "Patel", "Quist", "Rossi", "Silva", "Tanaka", "Ueda", "Varga", "Weber", "Xu",
    "Yilmaz", "Zhang",
];
/// First words of company names.
pub const COMPANY_WORDS: &[&str] = &[
    "Acme", "Blue", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper", "Kestrel", "Lumen",
    "Maple", "Nimbus", "Orbit", "Pioneer", "Quartz", "River", "Summit", "Tidal",
];
/// Last words of company names.
pub const COMPANY_KINDS: &[&str] = &["Labs", "Systems", "Holdings", "Logistics", "Health", "Energy", "Foods", "Media"];
