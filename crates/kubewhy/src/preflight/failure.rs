//! A request of a check that did not succeed — an API or transport error, or no answer within the time limit —
//! and its diagnosis.

use std::time::Duration;

use crate::cause::Cause;
use crate::diagnosis::{Diagnosis, Request};

/// Runs a future with the time limit of `options`, turning a timeout into a message.
pub(crate) async fn limited<T>(
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure::Api(Box::new(e))),
        Err(_) => Err(Failure::TimedOut(timeout)),
    }
}

/// A request that did not succeed: an API or transport error, or no answer in time.
#[derive(Debug)]
pub(crate) enum Failure {
    Api(Box<kube::Error>),
    TimedOut(Duration),
}

impl Failure {
    /// The diagnosis of this failure for a request.
    pub(crate) fn diagnose(&self, request: &Request) -> Diagnosis {
        match self {
            Failure::Api(e) => crate::diagnose::diagnose_in(e, Some(request)),
            Failure::TimedOut(limit) => {
                let mut d = Diagnosis::new(
                    Cause::NoAnswer {
                        after_ms: u64::try_from(limit.as_millis()).ok(),
                    },
                    format!("no answer within {}s", limit.as_secs_f64()),
                );
                d.request = request.clone();
                d
            }
        }
    }

    /// The HTTP status code, when the server answered.
    pub(crate) fn code(&self) -> Option<u16> {
        match self {
            Failure::Api(e) => match e.as_ref() {
                kube::Error::Api(s) => Some(s.code),
                _ => None,
            },
            Failure::TimedOut(_) => None,
        }
    }

    /// The server's message, when it answered.
    pub(crate) fn message(&self) -> String {
        match self {
            Failure::Api(e) => match e.as_ref() {
                kube::Error::Api(s) => s.message.clone(),
                other => crate::chain::one_line(other),
            },
            Failure::TimedOut(limit) => format!("no answer within {}s", limit.as_secs_f64()),
        }
    }
}
