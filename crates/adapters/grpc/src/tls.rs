//! TLS for the inventory API (rustls on ring): the server's certificate, optionally a CA
//! whose client certificates it requires (mutual TLS), and the client's trusted CA and
//! optional certificate. All in PEM.

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The server side: its certificate chain and key, and (for mutual TLS) the CA that must
/// have signed every client's certificate.
#[derive(Clone)]
pub struct ServerTls {
    /// Certificate chain, leaf first.
    pub cert_pem: Vec<u8>,
    /// Private key.
    pub key_pem: Vec<u8>,
    /// When set, clients must present a certificate signed by this CA.
    pub client_ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("mutual", &self.client_ca_pem.is_some()).finish_non_exhaustive()
    }
}

impl ServerTls {
    pub(crate) fn config(&self) -> ServerTlsConfig {
        let config = ServerTlsConfig::new().identity(Identity::from_pem(&self.cert_pem, &self.key_pem));
        match &self.client_ca_pem {
            Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
            None => config,
        }
    }
}

/// The client side: the CA the server's certificate must chain to and, for mutual TLS,
/// this client's certificate and key.
#[derive(Clone, Default)]
pub struct ClientTls {
    /// The CA certificate(s) to trust.
    pub ca_pem: Vec<u8>,
    /// This client's certificate chain and key, when the server asks for one.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").field("client_certificate", &self.identity.is_some()).finish_non_exhaustive()
    }
}

impl ClientTls {
    pub(crate) fn config(&self) -> ClientTlsConfig {
        let config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.ca_pem));
        match &self.identity {
            Some((cert, key)) => config.identity(Identity::from_pem(cert, key)),
            None => config,
        }
    }
}
