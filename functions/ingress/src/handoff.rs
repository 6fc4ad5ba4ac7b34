//! Handing a callback to its family: an asynchronous Lambda invoke of the envelope. Lambda
//! queues it, retries the family twice and dead-letters what still fails, so once Invoke
//! answers 2xx the callback is safe.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use shared::{Envelope, Family};

use crate::config::FamilyFunctions;

#[derive(Debug, thiserror::Error)]
pub enum HandOffError {
    #[error("the envelope could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("invoking {function} failed: {reason}")]
    Invoke { function: String, reason: String },
}

pub struct HandOff {
    client: aws_sdk_lambda::Client,
    functions: FamilyFunctions,
}

impl HandOff {
    pub fn new(client: aws_sdk_lambda::Client, functions: FamilyFunctions) -> Self {
        Self { client, functions }
    }

    pub async fn send(&self, family: Family, envelope: &Envelope) -> Result<(), HandOffError> {
        let function = self.functions.for_family(family);
        let payload = serde_json::to_vec(envelope)?;
        let failed = |reason: String| HandOffError::Invoke {
            function: function.to_owned(),
            reason,
        };
        let out = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| failed(shared::aws::describe(&e)))?;
        // AWS answers 202 to an Event invoke; `cargo lambda watch` runs it and answers 200.
        if (200..300).contains(&out.status_code()) {
            Ok(())
        } else {
            Err(failed(format!("HTTP {}", out.status_code())))
        }
    }
}
