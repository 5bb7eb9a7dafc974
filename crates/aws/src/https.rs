//! The HTTPS client every SDK client shares: hyper 1's pooled client over HTTP/1.1, rustls on
//! *ring* with the machine's root certificates. Not aws-smithy-http-client's, whose rustls
//! client always carries HTTP/2 (the h2 crate) although no service we call negotiates it.
//! What it keeps of that client: one connection pool for the process (init's warm-up call
//! opens the connection the first request reuses), a connect timeout over TCP and TLS, the
//! SDK's read timeout when one is configured, and errors classified the same way so the
//! SDK's retries see timeouts and broken connections as such. What it leaves out: HTTP
//! proxies (Lambda reaches AWS endpoints directly).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::TokioExecutor;

/// The SDK's default connect timeout for our behaviour version, over TCP and the TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

type Connector = ConnectTimeout<HttpsConnector<TcpConnector>>;

#[derive(Clone, Debug)]
pub struct Https1Client {
    client: Client<Connector, SdkBody>,
}

impl Https1Client {
    pub fn new() -> Self {
        Self::trusting(native_roots())
    }

    /// A client that trusts `roots` alone (the machine's, or a test's own CA).
    fn trusting(roots: rustls::RootCertStore) -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(roots))
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let connector = ConnectTimeout {
            inner: https,
            timeout: CONNECT_TIMEOUT,
        };
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }
}

impl Default for Https1Client {
    fn default() -> Self {
        Self::new()
    }
}

fn tls_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The machine's root certificates (Lambda's are in its image). Unreadable ones are logged:
/// every HTTPS call would then fail on its certificate, and the log says why.
fn native_roots() -> rustls::RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    if !found.errors.is_empty() {
        tracing::warn!(errors = ?found.errors, "loading the root certificates");
    }
    let mut roots = rustls::RootCertStore::empty();
    let (_valid, invalid) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() || invalid > 0 {
        tracing::warn!(valid = roots.len(), invalid, "root certificates");
    }
    roots
}

impl HttpClient for Https1Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Https1Connector {
            client: self.client.clone(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug)]
struct Https1Connector {
    client: Client<Connector, SdkBody>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Https1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(err) => return HttpConnectorFuture::ready(Err(ConnectorError::user(err.into()))),
        };
        let response = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, response)
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
                None => response.await,
            };
            let response = response.map_err(classify)?.map(SdkBody::from_body_1_x);
            HttpResponse::try_from(response).map_err(|err| ConnectorError::other(err.into(), None))
        })
    }
}

/// The error as the SDK's retry strategy reads it: a timeout or a broken connection is
/// retried, a request the client refused is not, anything else is left to the SDK to judge.
fn classify(err: hyper_util::client::legacy::Error) -> ConnectorError {
    type Kind = fn(BoxError) -> ConnectorError;
    let hyper = find_source::<hyper::Error>(&err);
    let kind: Kind = if find_source::<tokio::time::error::Elapsed>(&err).is_some()
        || hyper.is_some_and(hyper::Error::is_timeout)
    {
        ConnectorError::timeout
    } else if hyper.is_some_and(hyper::Error::is_user) {
        ConnectorError::user
    } else if err.is_connect()
        || hyper.is_some_and(|h| h.is_closed() || h.is_canceled())
        || find_source::<std::io::Error>(&err).is_some()
    {
        ConnectorError::io
    } else if hyper.is_some_and(hyper::Error::is_incomplete_message) {
        |err| ConnectorError::other(err, Some(ErrorKind::TransientError))
    } else {
        |err| ConnectorError::other(err, None)
    };
    kind(Box::new(err))
}

fn find_source<'a, E: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    std::iter::successors(Some(err), |err| err.source()).find_map(|err| err.downcast_ref::<E>())
}

/// Bounds the whole connect, TCP and TLS, as the SDK's own client does.
#[derive(Clone, Debug)]
struct ConnectTimeout<C> {
    inner: C,
    timeout: Duration,
}

impl<C> tower::Service<http::Uri> for ConnectTimeout<C>
where
    C: tower::Service<http::Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected.map_err(Into::into),
                Err(elapsed) => Err(elapsed.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::byte_stream::ByteStream;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn connector(read_timeout: Option<Duration>) -> Https1Connector {
        Https1Connector {
            client: Https1Client::new().client,
            read_timeout,
        }
    }

    fn get(port: u16) -> HttpRequest {
        request(&format!("http://127.0.0.1:{port}/"))
    }

    fn request(url: &str) -> HttpRequest {
        let request = http::Request::get(url).body(SdkBody::empty()).unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    /// A server answering each connection's requests with `answer`, on one connection after
    /// another; returns its port and how many connections it accepted.
    async fn server(answer: &'static [u8]) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {
                        if stream.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (port, accepted)
    }

    #[tokio::test]
    async fn answers_over_one_reused_http1_connection() {
        let (port, accepted) =
            server(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-amzn-requestid: r1\r\n\r\nok").await;
        let connector = connector(None);
        for _ in 0..2 {
            let response = connector.call(get(port)).await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            assert_eq!(response.headers().get("x-amzn-requestid"), Some("r1"));
            let body = ByteStream::new(response.into_body())
                .collect()
                .await
                .unwrap();
            assert_eq!(body.into_bytes().as_ref(), b"ok");
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// A TLS server for `localhost` (testdata/, signed by the test CA) speaking only
    /// `versions`, answering each request of a connection with a 200 `ok`.
    async fn tls_server(versions: &'static [&'static rustls::SupportedProtocolVersion]) -> u16 {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_slice_iter(include_bytes!("../testdata/localhost.pem"))
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key =
            PrivateKeyDer::from_pem_slice(include_bytes!("../testdata/localhost.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return; // the client refused the certificate
                    };
                    let mut buf = [0u8; 4096];
                    while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if tls.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static TLS12_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];

    fn test_ca() -> rustls::RootCertStore {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let ca = CertificateDer::from_pem_slice(include_bytes!("../testdata/ca.pem")).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        roots
    }

    fn trusting(roots: rustls::RootCertStore) -> Https1Connector {
        Https1Connector {
            client: Https1Client::trusting(roots).client,
            read_timeout: None,
        }
    }

    /// The handshake every AWS call makes, on TLS 1.3 and on 1.2, by name and by address:
    /// the certificate chain checked against the roots the client was given.
    #[tokio::test]
    async fn speaks_tls_1_3_and_1_2_to_a_server_its_roots_vouch_for() {
        for versions in [&TLS13_ONLY[..], &TLS12_ONLY[..]] {
            let port = tls_server(versions).await;
            for host in ["localhost", "127.0.0.1"] {
                let url = format!("https://{host}:{port}/");
                let response = trusting(test_ca()).call(request(&url)).await.unwrap();
                assert_eq!(response.status().as_u16(), 200, "{url}");
            }
        }
    }

    #[tokio::test]
    async fn refuses_a_certificate_its_roots_do_not_vouch_for() {
        let port = tls_server(&TLS13_ONLY).await;
        let url = format!("https://localhost:{port}/");
        let stranger = rustls::RootCertStore::empty();
        let refused = trusting(stranger).call(request(&url)).await.unwrap_err();
        assert!(
            format!("{refused:?}").contains("UnknownIssuer"),
            "{refused:?}"
        );
        let machine = connector(None).call(request(&url)).await.unwrap_err();
        assert!(
            format!("{machine:?}").contains("UnknownIssuer"),
            "{machine:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_and_a_silent_server_a_timeout() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let refused = connector(None).call(get(port)).await.unwrap_err();
        assert!(refused.is_io(), "{refused:?}");

        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let slow = connector(Some(Duration::from_millis(50)))
            .call(get(port))
            .await;
        assert!(slow.unwrap_err().is_timeout());
        drop(silent);
    }
}
