//! What will be checked, derived once from the declared needs ([`Plan`]), and how a need, a permission and a
//! probe are named in the report and as a request.

use super::report::{Check, CheckKind};
use crate::needs::{Need, Needs, ResourceType};
// The request and scope of a need are the needs' own (the access watchdog uses them too, without `preflight`).
pub(crate) use crate::needs::{need_request, scope, scope_phrase};
use crate::rbac::{Permission, Verb};
use crate::vocab;

/// What will be checked, derived once from the needs: the distinct (type, subresource) pairs, the distinct
/// permissions with the need that asked first, and the watched needs.
pub(crate) struct Plan {
    /// The program whose needs these are.
    pub program: String,
    /// (first need index, type, subresource, verbs over every need on it).
    pub served: Vec<ServedKey>,
    /// (first need index, permission, version).
    pub access: Vec<AccessKey>,
    /// Watched needs (index, need).
    pub probes: Vec<(usize, Need)>,
}

pub(crate) struct ServedKey {
    pub need: usize,
    pub resource: ResourceType,
    pub subresource: Option<String>,
    pub verbs: std::collections::BTreeSet<Verb>,
    /// Every need (1-based) on this type and subresource.
    pub needs: Vec<usize>,
}

pub(crate) struct AccessKey {
    pub need: usize,
    pub permission: Permission,
    pub resource: ResourceType,
    pub subresource: Option<String>,
}

impl Plan {
    pub(super) fn new(needs: &Needs) -> Plan {
        let mut served: Vec<ServedKey> = Vec::new();
        let mut access: Vec<AccessKey> = Vec::new();
        let mut probes = Vec::new();
        for (i, need) in needs.needs.iter().enumerate() {
            let index = i + 1;
            let mut verbs = need.verbs.clone();
            if need.watch {
                verbs.extend([Verb::List, Verb::Watch]);
                probes.push((index, need.clone()));
            }
            match served
                .iter_mut()
                .find(|k| k.resource == need.resource && k.subresource == need.subresource)
            {
                Some(key) => {
                    key.verbs.extend(verbs.iter().copied());
                    key.needs.push(index);
                }
                None => served.push(ServedKey {
                    need: index,
                    resource: need.resource.clone(),
                    subresource: need.subresource.clone(),
                    verbs: verbs.clone(),
                    needs: vec![index],
                }),
            }
            let mut with_watch = need.clone();
            with_watch.verbs = verbs;
            for permission in with_watch.permissions() {
                if !access.iter().any(|k| k.permission == permission) {
                    access.push(AccessKey {
                        need: index,
                        permission,
                        resource: need.resource.clone(),
                        subresource: need.subresource.clone(),
                    });
                }
            }
        }
        Plan {
            program: needs.name.clone(),
            served,
            access,
            probes,
        }
    }

    pub(super) fn all_skipped(&self, reason: &str) -> Vec<Check> {
        let mut out = vec![Check::new(CheckKind::Whoami, "who am I", None).skip(reason)];
        out.extend(
            self.served
                .iter()
                .map(|k| Check::new(CheckKind::Served, served_name(k), Some(k.need)).skip(reason)),
        );
        out.extend(self.access.iter().map(|k| {
            let mut c = Check::new(CheckKind::Access, access_name(k), Some(k.need)).skip(reason);
            c.permission = Some(k.permission.clone());
            c
        }));
        out.extend(self.probes.iter().map(|(i, need)| {
            Check::new(CheckKind::Probe, probe_name(need), Some(*i)).skip(reason)
        }));
        out
    }
}

/// `documents.kube.rs`, `configmaps`, `documents.kube.rs/status`.
pub(crate) fn resource_name(resource: &ResourceType, subresource: Option<&str>) -> String {
    vocab::resource_name(&resource.resource, &resource.group, subresource)
}

pub(crate) fn served_name(key: &ServedKey) -> String {
    format!(
        "`{}` ({})",
        resource_name(&key.resource, key.subresource.as_deref()),
        key.resource.version
    )
}

pub(crate) fn access_name(key: &AccessKey) -> String {
    format!(
        "`{}` `{}` {}",
        key.permission.verb,
        resource_name(&key.resource, key.subresource.as_deref()),
        scope_phrase(&key.resource, key.permission.namespace.as_deref())
    )
}

pub(crate) fn probe_name(need: &Need) -> String {
    format!(
        "list and watch `{}` ({}) {}",
        resource_name(&need.resource, None),
        need.resource.version,
        scope_phrase(&need.resource, need.namespace.as_deref())
    )
}
