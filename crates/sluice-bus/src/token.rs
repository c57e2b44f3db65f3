//! Opaque paging tokens, bound to the operation that issued them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use sluice_store::PageRequest;

use crate::error::{BusError, BusResult};

/// A `NextToken` for `operation` resuming after `cursor`.
pub fn encode(operation: &str, cursor: &str) -> String {
    B64.encode(format!("{operation}\n{cursor}"))
}

/// The cursor inside a token `operation` issued.
pub fn decode(operation: &str, token: &str) -> BusResult<String> {
    let invalid = || BusError::validation(format!("The NextToken is not valid for {operation}."));
    let text = String::from_utf8(B64.decode(token).map_err(|_| invalid())?).map_err(|_| invalid())?;
    match text.split_once('\n') {
        Some((op, cursor)) if op == operation => Ok(cursor.to_string()),
        _ => Err(invalid()),
    }
}

/// The page a List call asks for.
pub fn page(operation: &str, limit: Option<i32>, token: Option<&str>, default: usize) -> BusResult<PageRequest> {
    let cursor = token.map(|t| decode(operation, t)).transpose()?;
    let limit = limit.map(|l| l.max(1) as usize).unwrap_or(default);
    Ok(PageRequest { cursor, limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_operation() {
        let token = encode("ListRules", "r7");
        assert_eq!(decode("ListRules", &token).unwrap(), "r7");
        assert!(decode("ListEventBuses", &token).is_err());
        assert!(decode("ListRules", "%%%").is_err());
    }
}
