//! What `kubewhy explain <workload>` explains: a workload named as kubectl names it (`deploy/web`,
//! `statefulsets.apps/db`, `po/web-0`), or the pods a label selector picks.

use std::fmt;

/// A kind of workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `apps/v1` Deployment: its ReplicaSets' pods.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `batch/v1` Job.
    Job,
    /// `v1` Pod: the pod itself.
    Pod,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::ReplicaSet,
        Kind::Job,
        Kind::Pod,
    ];

    /// The kind (`Deployment`).
    pub fn kind(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Job => "Job",
            Kind::Pod => "Pod",
        }
    }

    /// The resource (`deployments`).
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Deployment => "deployments",
            Kind::StatefulSet => "statefulsets",
            Kind::DaemonSet => "daemonsets",
            Kind::ReplicaSet => "replicasets",
            Kind::Job => "jobs",
            Kind::Pod => "pods",
        }
    }

    /// The API group (`apps`; `""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet | Kind::ReplicaSet => "apps",
            Kind::Job => "batch",
            Kind::Pod => "",
        }
    }

    /// kubectl's short name (`deploy`), if it has one.
    fn short(self) -> Option<&'static str> {
        match self {
            Kind::Deployment => Some("deploy"),
            Kind::StatefulSet => Some("sts"),
            Kind::DaemonSet => Some("ds"),
            Kind::ReplicaSet => Some("rs"),
            Kind::Job => None,
            Kind::Pod => Some("po"),
        }
    }

    /// The kind a word names, as kubectl reads it: the short name, the singular, the plural or the kind, each
    /// optionally with its group (`deployments.apps`); case does not matter.
    pub fn parse(word: &str) -> Option<Kind> {
        let word = word.to_ascii_lowercase();
        Kind::ALL.into_iter().find(|k| {
            let (name, group) = match word.split_once('.') {
                Some((name, group)) if group == k.group() => (name, true),
                Some(_) => return false,
                None => (word.as_str(), false),
            };
            let singular = k.kind().to_ascii_lowercase();
            name == k.resource() || name == singular || (!group && k.short() == Some(name))
        })
    }
}

impl fmt::Display for Kind {
    /// `deployment`, as in `deployment/web`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind().to_ascii_lowercase())
    }
}

/// What to explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One workload.
    Object {
        /// Its kind.
        kind: Kind,
        /// Its name.
        name: String,
    },
    /// The pods a label selector picks (`app=web,tier!=cache`).
    Selector(String),
}

/// Why a word does not name a workload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not `TYPE/NAME`.
    #[error("`{0}` is not TYPE/NAME (e.g. deploy/web)")]
    NotTypeName(String),
    /// The type is not a workload kubewhy explains.
    #[error(
        "`{0}` is not a kind of workload kubewhy explains (deployment, statefulset, daemonset, replicaset, job, pod, \
         or their kubectl short names)"
    )]
    UnknownKind(String),
    /// The name is not a valid object name.
    #[error("`{0}` is not a valid object name (lower-case letters, digits, `-` and `.`)")]
    BadName(String),
}

impl Target {
    /// Reads `TYPE/NAME` (`deploy/web`, `statefulsets.apps/db`, `pod/web-0`).
    ///
    /// # Errors
    /// When the word is not `TYPE/NAME`, the type is not a workload kind, or the name is not an object name.
    pub fn parse(word: &str) -> Result<Target, TargetError> {
        let (kind, name) = word
            .split_once('/')
            .filter(|(k, n)| !k.is_empty() && !n.is_empty())
            .ok_or_else(|| TargetError::NotTypeName(word.to_string()))?;
        let kind = Kind::parse(kind).ok_or_else(|| TargetError::UnknownKind(kind.to_string()))?;
        let valid = name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Err(TargetError::BadName(name.to_string()));
        }
        Ok(Target::Object {
            kind,
            name: name.to_string(),
        })
    }

    /// Whether a word reads as `TYPE/NAME` of a workload kind (a file of that name is not looked for here).
    pub fn is_type_name(word: &str) -> bool {
        Target::parse(word).is_ok()
    }
}

impl fmt::Display for Target {
    /// `deployment/web`, or `pods -l app=web`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Object { kind, name } => write!(f, "{kind}/{name}"),
            Target::Selector(s) => write!(f, "pods -l {s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kinds_as_kubectl_does() {
        for (word, kind) in [
            ("deploy", Kind::Deployment),
            ("deployment", Kind::Deployment),
            ("Deployments", Kind::Deployment),
            ("deployments.apps", Kind::Deployment),
            ("sts", Kind::StatefulSet),
            ("statefulset.apps", Kind::StatefulSet),
            ("ds", Kind::DaemonSet),
            ("rs", Kind::ReplicaSet),
            ("job", Kind::Job),
            ("jobs.batch", Kind::Job),
            ("po", Kind::Pod),
            ("pods", Kind::Pod),
        ] {
            assert_eq!(Kind::parse(word), Some(kind), "{word}");
        }
        for word in [
            "deploy.apps",
            "jobs.apps",
            "svc",
            "configmap",
            "deployments.extensions",
        ] {
            assert_eq!(Kind::parse(word), None, "{word}");
        }
    }

    #[test]
    fn reads_type_slash_name() {
        assert_eq!(
            Target::parse("deploy/web").unwrap(),
            Target::Object {
                kind: Kind::Deployment,
                name: "web".into()
            }
        );
        assert_eq!(
            Target::parse("deploy/web").unwrap().to_string(),
            "deployment/web"
        );
        assert!(matches!(
            Target::parse("web"),
            Err(TargetError::NotTypeName(_))
        ));
        assert!(matches!(
            Target::parse("svc/web"),
            Err(TargetError::UnknownKind(_))
        ));
        assert!(matches!(
            Target::parse("deploy/Web_1"),
            Err(TargetError::BadName(_))
        ));
        assert!(matches!(
            Target::parse("deploy/x.log/"),
            Err(TargetError::BadName(_))
        ));
        assert_eq!(
            Target::Selector("app=web".into()).to_string(),
            "pods -l app=web"
        );
    }
}
