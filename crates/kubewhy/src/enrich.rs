//! Live enrichment: confirm or refute a diagnosis against the cluster (discovery, nearest names, SubjectAccessReview).
