//! Wording of the application's own causes ([`crate::cause::AppCause`]): the application brought its words with
//! the cause, so this family only hands them on.

use super::Words;
use crate::cause::Cause;
use crate::diagnosis::Diagnosis;

pub(super) fn words(d: &Diagnosis) -> Words {
    match &d.cause {
        Cause::Application(app) => Words {
            summary: app.summary.clone(),
            cause: app.cause.clone(),
            notes: app.notes.clone(),
        },
        _ => unreachable!("describe::application is given the application's causes only"),
    }
}
