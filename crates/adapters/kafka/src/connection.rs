//! Where the brokers are and how to reach them: in clear text (a private network), or
//! over TLS with the brokers' certificates checked against a CA and, when the brokers ask,
//! a client certificate.

use std::path::PathBuf;

use rdkafka::ClientConfig;

/// TLS to the brokers (librdkafka's `security.protocol=ssl`, on the OpenSSL built into
/// the client, not the system's): the brokers' certificates must chain to the CA at
/// `ca_location` and name the host connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaTls {
    /// PEM file of the CA certificate(s) to trust.
    pub ca_location: PathBuf,
    /// This client's PEM certificate and key files, for brokers that require one.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// The brokers (`host:port,...`) and, when set, TLS. A `&str` is a plain connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brokers {
    /// `host:port,...`
    pub list: String,
    /// TLS settings; `None` is clear text.
    pub tls: Option<KafkaTls>,
}

impl Brokers {
    /// These brokers over TLS.
    #[must_use]
    pub fn with_tls(mut self, tls: KafkaTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// A client configuration reaching these brokers; callers add their own settings.
    pub(crate) fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.list);
        if let Some(tls) = &self.tls {
            config
                .set("security.protocol", "ssl")
                .set("ssl.ca.location", tls.ca_location.to_string_lossy())
                // The certificate must name the host: no connection to an impostor with
                // any certificate of the same CA.
                .set("ssl.endpoint.identification.algorithm", "https");
            if let Some((certificate, key)) = &tls.client {
                config
                    .set("ssl.certificate.location", certificate.to_string_lossy())
                    .set("ssl.key.location", key.to_string_lossy());
            }
        }
        config
    }

    /// A configuration for an idempotent producer on these brokers (no duplicate or
    /// reordered message on a retry).
    pub(crate) fn idempotent_producer(&self) -> ClientConfig {
        let mut config = self.config();
        config
            .set("enable.idempotence", "true")
            // Connect to every broker the metadata names at once. With sparse connections
            // the producer finds no broker to ask for its producer id, retries on a 500 ms
            // timer and connects only then: the first message waited about 1 s
            // (docs/benchmarks.md, "start-up tail"). A producer talks to most brokers anyway.
            .set("enable.sparse.connections", "false");
        config
    }
}

/// `host:port,...`, with ` (TLS)` when encrypted: for logs (no file paths, no secrets).
impl std::fmt::Display for Brokers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.list)?;
        if self.tls.is_some() {
            f.write_str(" (TLS)")?;
        }
        Ok(())
    }
}

impl From<&str> for Brokers {
    fn from(list: &str) -> Self {
        Self { list: list.to_owned(), tls: None }
    }
}

impl From<String> for Brokers {
    fn from(list: String) -> Self {
        Self { list, tls: None }
    }
}

impl From<&String> for Brokers {
    fn from(list: &String) -> Self {
        Self::from(list.as_str())
    }
}

impl From<&Brokers> for Brokers {
    fn from(brokers: &Brokers) -> Self {
        brokers.clone()
    }
}
