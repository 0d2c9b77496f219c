//! Wording of a program's own failures ([`Cause::Application`]): the program words them itself (it alone knows
//! what its objects and rules mean), so the table takes its summary and cause as they are.

use super::Words;
use crate::cause::Cause;
use crate::diagnosis::Diagnosis;

pub(super) fn words(d: &Diagnosis) -> Words {
    match &d.cause {
        Cause::Application(a) => Words::new(a.summary.clone(), &a.cause),
        _ => Words::default(),
    }
}
