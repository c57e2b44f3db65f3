//! Who signed a request: an account's root, an IAM user, or a session of
//! an assumed role, with the ARN and ids AWS gives each.

/// The identity behind a request's access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account's root user.
    Root,
    /// An IAM user.
    User {
        /// Its name.
        name: String,
        /// Its path (`/` by default).
        path: String,
        /// Its id (`AIDA...`).
        id: String,
    },
    /// A session of an assumed role.
    AssumedRole {
        /// The role's name.
        role_name: String,
        /// The role's id (`AROA...`).
        role_id: String,
        /// The session's name.
        session_name: String,
    },
}

/// The caller of a request: its account and identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's account.
    pub account_id: String,
    /// Who in that account.
    pub principal: Principal,
    /// The access key the request was signed with.
    pub access_key_id: String,
}

impl Caller {
    /// The account's root (the server's own calls, and tests).
    pub fn root(account_id: &str) -> Self {
        Self { account_id: account_id.to_string(), principal: Principal::Root, access_key_id: String::new() }
    }

    /// The caller's ARN, as GetCallerIdentity and AWS's messages write it.
    pub fn arn(&self) -> String {
        match &self.principal {
            Principal::Root => format!("arn:aws:iam::{}:root", self.account_id),
            Principal::User { name, path, .. } => format!("arn:aws:iam::{}:user{path}{name}", self.account_id),
            Principal::AssumedRole { role_name, session_name, .. } => {
                format!("arn:aws:sts::{}:assumed-role/{role_name}/{session_name}", self.account_id)
            }
        }
    }

    /// GetCallerIdentity's UserId: the account id for root, the user's id,
    /// or `ROLEID:SESSION`.
    pub fn user_id(&self) -> String {
        match &self.principal {
            Principal::Root => self.account_id.clone(),
            Principal::User { id, .. } => id.clone(),
            Principal::AssumedRole { role_id, session_name, .. } => format!("{role_id}:{session_name}"),
        }
    }

    /// Whether this is the account's root user (allowed everything in its
    /// own account).
    pub fn is_root(&self) -> bool {
        self.principal == Principal::Root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_ids_follow_aws() {
        let root = Caller::root("111111111111");
        assert_eq!((root.arn(), root.user_id()), ("arn:aws:iam::111111111111:root".into(), "111111111111".into()));
        let user = Caller {
            account_id: "111111111111".into(),
            principal: Principal::User { name: "alice".into(), path: "/ops/".into(), id: "AIDAX".into() },
            access_key_id: "AKIAX".into(),
        };
        assert_eq!(user.arn(), "arn:aws:iam::111111111111:user/ops/alice");
        let session = Caller {
            account_id: "111111111111".into(),
            principal: Principal::AssumedRole {
                role_name: "isv".into(),
                role_id: "AROAY".into(),
                session_name: "s1".into(),
            },
            access_key_id: "ASIAX".into(),
        };
        assert_eq!(session.arn(), "arn:aws:sts::111111111111:assumed-role/isv/s1");
        assert_eq!(session.user_id(), "AROAY:s1");
    }
}
