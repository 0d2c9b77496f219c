//! Fixes of the application's own causes ([`crate::cause::AppCause`]): the application brought its help and commands
//! with the cause, so this family only hands them on.

use super::Remedy;
use crate::cause::Cause;
use crate::diagnosis::Diagnosis;

pub(super) fn remedy(d: &Diagnosis) -> Remedy {
    match &d.cause {
        Cause::Application(app) => Remedy {
            summary: app.help.clone(),
            text: app.help.clone(),
            yaml: None,
            commands: app.commands.clone(),
        },
        _ => unreachable!("remedy::application is given the application's causes only"),
    }
}
