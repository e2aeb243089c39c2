//! dynoxide embedded in the process, served over HTTP on a loopback port, so the service talks to
//! it through the AWS SDK exactly as it talks to DynamoDB.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;
use tokio::net::TcpListener;

pub struct Engine {
    pub endpoint: String,
    pub address: SocketAddr,
}

impl Engine {
    /// Starts the engine on a loopback port (0: a free one); in memory, or kept in `file`.
    pub async fn start(file: Option<&Path>, port: u16) -> anyhow::Result<Self> {
        let database = match file {
            None => dynoxide::Database::memory()?,
            Some(path) => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                dynoxide::Database::new(&path.to_string_lossy())
                    .with_context(|| format!("opening {}", path.display()))?
            }
        };
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        let address = listener.local_addr()?;
        tokio::spawn(dynoxide::server::serve_on(listener, database));
        Ok(Self {
            endpoint: format!("http://{address}"),
            address,
        })
    }

    /// An SDK client for the engine: static dummy credentials, region us-east-1.
    pub fn client(&self) -> Client {
        client_for(&self.endpoint)
    }
}

/// Deletes a kept database with its SQLite journal files, which belong to it alone.
pub fn remove_database(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
        }
    }
    Ok(())
}

pub fn client_for(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "devkit"))
        .build();
    Client::from_conf(config)
}
