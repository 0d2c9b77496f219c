//! Kubernetes verbs as RBAC names them: the verbs of API requests (`get` ... `deletecollection`), the special
//! verbs RBAC checks (`impersonate`, `bind`, `escalate`, `use`, `approve`, `sign`), the constrained impersonation
//! verbs of Kubernetes 1.35+ (`impersonate:user-info`, `impersonate-on:user-info:create`) and `*`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A verb of an API request: what the API server's request-info filter derives from a method and URL (the
/// `<verb>` of `impersonate-on:<mode>:<verb>`; [`Verb`] documents each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum ApiVerb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl ApiVerb {
    /// Every API verb.
    pub const ALL: [ApiVerb; 8] = [
        ApiVerb::Get,
        ApiVerb::List,
        ApiVerb::Watch,
        ApiVerb::Create,
        ApiVerb::Update,
        ApiVerb::Patch,
        ApiVerb::Delete,
        ApiVerb::DeleteCollection,
    ];

    /// The spelling (`get`, `deletecollection`).
    pub fn as_str(self) -> &'static str {
        API_VERBS[self as usize]
    }
}

const API_VERBS: [&str; 8] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

/// Who a constrained impersonation is of (KEP-5284): the `<mode>` of `impersonate:<mode>` and
/// `impersonate-on:<mode>:<verb>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImpersonationMode {
    /// Users, groups, UIDs and extras (`users`/`groups`/`uids`/`userextras` in `authentication.k8s.io`).
    UserInfo,
    /// A ServiceAccount (`serviceaccounts` in `authentication.k8s.io`, in its namespace).
    ServiceAccount,
    /// Any node (`nodes`).
    ArbitraryNode,
    /// The node the impersonating ServiceAccount's pod runs on (`nodes`).
    AssociatedNode,
}

impl ImpersonationMode {
    const ALL: [ImpersonationMode; 4] = [
        ImpersonationMode::UserInfo,
        ImpersonationMode::ServiceAccount,
        ImpersonationMode::ArbitraryNode,
        ImpersonationMode::AssociatedNode,
    ];

    /// The spelling (`user-info`, `serviceaccount`, `arbitrary-node`, `associated-node`).
    pub fn as_str(self) -> &'static str {
        [
            "user-info",
            "serviceaccount",
            "arbitrary-node",
            "associated-node",
        ][self as usize]
    }

    /// The `authentication.k8s.io` resource the identity rule (`impersonate:<mode>`) names.
    pub fn identity_resource(self) -> &'static str {
        match self {
            ImpersonationMode::UserInfo => "users",
            ImpersonationMode::ServiceAccount => "serviceaccounts",
            ImpersonationMode::ArbitraryNode | ImpersonationMode::AssociatedNode => "nodes",
        }
    }
}

/// The group of the identity rules of constrained impersonation.
pub const IMPERSONATION_GROUP: &str = "authentication.k8s.io";

const IMPERSONATE_AS: [&str; 4] = [
    "impersonate:user-info",
    "impersonate:serviceaccount",
    "impersonate:arbitrary-node",
    "impersonate:associated-node",
];

/// `impersonate-on:<mode>:<verb>`, spelled out so that every verb has a `&'static str`.
const IMPERSONATE_ON: [[&str; 8]; 4] = [
    [
        "impersonate-on:user-info:get",
        "impersonate-on:user-info:list",
        "impersonate-on:user-info:watch",
        "impersonate-on:user-info:create",
        "impersonate-on:user-info:update",
        "impersonate-on:user-info:patch",
        "impersonate-on:user-info:delete",
        "impersonate-on:user-info:deletecollection",
    ],
    [
        "impersonate-on:serviceaccount:get",
        "impersonate-on:serviceaccount:list",
        "impersonate-on:serviceaccount:watch",
        "impersonate-on:serviceaccount:create",
        "impersonate-on:serviceaccount:update",
        "impersonate-on:serviceaccount:patch",
        "impersonate-on:serviceaccount:delete",
        "impersonate-on:serviceaccount:deletecollection",
    ],
    [
        "impersonate-on:arbitrary-node:get",
        "impersonate-on:arbitrary-node:list",
        "impersonate-on:arbitrary-node:watch",
        "impersonate-on:arbitrary-node:create",
        "impersonate-on:arbitrary-node:update",
        "impersonate-on:arbitrary-node:patch",
        "impersonate-on:arbitrary-node:delete",
        "impersonate-on:arbitrary-node:deletecollection",
    ],
    [
        "impersonate-on:associated-node:get",
        "impersonate-on:associated-node:list",
        "impersonate-on:associated-node:watch",
        "impersonate-on:associated-node:create",
        "impersonate-on:associated-node:update",
        "impersonate-on:associated-node:patch",
        "impersonate-on:associated-node:delete",
        "impersonate-on:associated-node:deletecollection",
    ],
];

/// A Kubernetes verb, as RBAC names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// Read one object.
    Get,
    /// Read a collection.
    List,
    /// Stream changes.
    Watch,
    /// Create an object.
    Create,
    /// Replace an object.
    Update,
    /// Patch an object (also server-side apply).
    Patch,
    /// Delete one object.
    Delete,
    /// Delete a collection.
    DeleteCollection,
    /// Impersonate a user, group or ServiceAccount (unconstrained).
    Impersonate,
    /// Grant a role's permissions without holding them (`roles`/`clusterroles`).
    Bind,
    /// Create or update a role with permissions one does not hold.
    Escalate,
    /// Use a named object (a PodSecurityPolicy, a SecurityContextConstraints).
    Use,
    /// Approve a CertificateSigningRequest for a signer.
    Approve,
    /// Sign a CertificateSigningRequest for a signer.
    Sign,
    /// `impersonate:<mode>`: impersonate an identity of this mode (constrained impersonation, the identity rule).
    ImpersonateAs(ImpersonationMode),
    /// `impersonate-on:<mode>:<verb>`: do `verb` while impersonating (constrained impersonation, the action rule).
    ImpersonateOn(ImpersonationMode, ApiVerb),
    /// Any verb (`*`).
    All,
}

impl Verb {
    /// The plain verbs (no constrained impersonation, no `*`) in RBAC spelling order.
    pub const ALL: [Verb; 14] = [
        Verb::Get,
        Verb::List,
        Verb::Watch,
        Verb::Create,
        Verb::Update,
        Verb::Patch,
        Verb::Delete,
        Verb::DeleteCollection,
        Verb::Impersonate,
        Verb::Bind,
        Verb::Escalate,
        Verb::Use,
        Verb::Approve,
        Verb::Sign,
    ];

    /// The RBAC spelling (`get`, `deletecollection`, `impersonate-on:user-info:create`, `*`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
            Verb::Impersonate => "impersonate",
            Verb::Bind => "bind",
            Verb::Escalate => "escalate",
            Verb::Use => "use",
            Verb::Approve => "approve",
            Verb::Sign => "sign",
            Verb::ImpersonateAs(mode) => IMPERSONATE_AS[mode as usize],
            Verb::ImpersonateOn(mode, verb) => IMPERSONATE_ON[mode as usize][verb as usize],
            Verb::All => "*",
        }
    }

    /// The verb of an API request, when this is one (`get` ... `deletecollection`): what discovery lists and what a
    /// method and URL can mean.
    pub fn api(self) -> Option<ApiVerb> {
        Some(match self {
            Verb::Get => ApiVerb::Get,
            Verb::List => ApiVerb::List,
            Verb::Watch => ApiVerb::Watch,
            Verb::Create => ApiVerb::Create,
            Verb::Update => ApiVerb::Update,
            Verb::Patch => ApiVerb::Patch,
            Verb::Delete => ApiVerb::Delete,
            Verb::DeleteCollection => ApiVerb::DeleteCollection,
            _ => return None,
        })
    }

    /// Whether this is the verb of an API request (`get` ... `deletecollection`).
    pub fn is_api_verb(self) -> bool {
        self.api().is_some()
    }
}

impl From<ApiVerb> for Verb {
    fn from(v: ApiVerb) -> Verb {
        Verb::ALL[v as usize]
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a word that is not a Kubernetes verb.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a Kubernetes verb (expected one of get, list, watch, create, update, patch, delete, deletecollection, impersonate, bind, escalate, use, approve, sign, impersonate:<mode>, impersonate-on:<mode>:<verb>, *)"
)]
pub struct UnknownVerb(pub String);

impl FromStr for Verb {
    type Err = UnknownVerb;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let unknown = || UnknownVerb(s.to_string());
        if lower == "*" {
            return Ok(Verb::All);
        }
        if let Some(v) = Verb::ALL.into_iter().find(|v| v.as_str() == lower) {
            return Ok(v);
        }
        if let Some(rest) = lower.strip_prefix("impersonate-on:") {
            let (mode, verb) = rest.split_once(':').ok_or_else(unknown)?;
            let mode = mode_of(mode).ok_or_else(unknown)?;
            let verb = ApiVerb::ALL
                .into_iter()
                .find(|v| v.as_str() == verb)
                .ok_or_else(unknown)?;
            return Ok(Verb::ImpersonateOn(mode, verb));
        }
        if let Some(mode) = lower.strip_prefix("impersonate:") {
            return mode_of(mode).map(Verb::ImpersonateAs).ok_or_else(unknown);
        }
        Err(unknown())
    }
}

fn mode_of(s: &str) -> Option<ImpersonationMode> {
    ImpersonationMode::ALL.into_iter().find(|m| m.as_str() == s)
}

/// Whether a word is a Kubernetes verb (see [`Verb`]).
pub fn is_verb(word: &str) -> bool {
    word.parse::<Verb>().is_ok()
}

impl Serialize for Verb {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Verb {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Verb, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_round_trip() {
        for v in Verb::ALL {
            assert_eq!(v.as_str().parse::<Verb>().unwrap(), v);
        }
        for mode in ImpersonationMode::ALL {
            let v = Verb::ImpersonateAs(mode);
            assert_eq!(v.as_str().parse::<Verb>().unwrap(), v);
            for api in ApiVerb::ALL {
                let v = Verb::ImpersonateOn(mode, api);
                assert_eq!(v.as_str().parse::<Verb>().unwrap(), v);
                assert_eq!(
                    v.as_str(),
                    format!("impersonate-on:{}:{}", mode.as_str(), api.as_str())
                );
            }
        }
        assert_eq!("*".parse::<Verb>().unwrap(), Verb::All);
        for bad in [
            "frobnicate",
            "impersonate-on:user-info",
            "impersonate-on:user-info:*",
            "impersonate:robot",
        ] {
            assert!(bad.parse::<Verb>().is_err(), "{bad}");
        }
    }

    #[test]
    fn api_verbs_are_the_request_verbs() {
        for api in ApiVerb::ALL {
            assert_eq!(Verb::from(api).api(), Some(api));
            assert_eq!(Verb::from(api).as_str(), api.as_str());
        }
        assert!(!Verb::Impersonate.is_api_verb());
        assert!(!Verb::ImpersonateOn(ImpersonationMode::UserInfo, ApiVerb::Create).is_api_verb());
    }

    #[test]
    fn verbs_serialize_as_their_spelling() {
        let v = Verb::ImpersonateOn(ImpersonationMode::ServiceAccount, ApiVerb::List);
        assert_eq!(
            serde_json::to_value(v).unwrap(),
            "impersonate-on:serviceaccount:list"
        );
        let back: Verb = serde_json::from_value("deletecollection".into()).unwrap();
        assert_eq!(back, Verb::DeleteCollection);
    }
}
