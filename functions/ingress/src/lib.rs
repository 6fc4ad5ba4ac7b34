//! The ingress function: the one Callback URL. It authenticates each callback and hands it to
//! the function of its family; a callback of a type we do not know is stored.

pub mod config;
pub mod handler;
pub mod handoff;
pub mod keys;

use aws_config::SdkConfig;
use shared::SessionsTable;

pub use config::IngressConfig;
pub use handler::Ingress;

use crate::config::KeySetting;
use crate::handoff::HandOff;
use crate::keys::{KeyRing, KeySource};

impl Ingress {
    /// Builds the clients once, and reads the keys, as a cold start does.
    pub async fn from_config(aws: &SdkConfig, config: IngressConfig) -> Self {
        let source = match config.keys {
            KeySetting::Secret(secret_id) => KeySource::Secret {
                client: aws_sdk_secretsmanager::Client::new(aws),
                secret_id,
            },
            KeySetting::Environment { current, previous } => KeySource::Fixed(
                shared::CallbackKeys::new(current.as_deref(), previous.as_deref()),
            ),
        };
        Self {
            keys: KeyRing::load(source, config.key_refresh).await,
            links: config.links,
            limits: config.limits,
            handoff: HandOff::new(aws_sdk_lambda::Client::new(aws), config.functions),
            table: SessionsTable::new(aws_sdk_dynamodb::Client::new(aws), config.sessions_table)
                .with_retention(config.record_retention),
        }
    }
}
