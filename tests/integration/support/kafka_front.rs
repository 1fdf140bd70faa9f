//! A Kafka listener with TLS and SASL for the tests of `connections.kafka.properties`.
//!
//! The tests' broker, tansu 0.6, can do neither (docs/operations.md says why), so a private
//! tansu sits behind a front that does what a broker's `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`
//! listener does before any other request: the TLS handshake (with a certificate of the test's
//! own CA, and optionally asking the client for one), then the Kafka protocol's SASL exchange
//! (`SaslHandshake`, then `SaslAuthenticate` rounds) with PLAIN or SCRAM-SHA-256 (RFC 5802, the
//! server side). `ApiVersions` goes through to the broker; any other request before
//! authentication closes the connection, as a broker does. Once the client is in, the
//! connection is passed through to tansu untouched, and tansu advertises the front's address in
//! its metadata, so every connection a client makes comes through here.
//!
//! What happened is kept as [`FrontEvent`]s for the tests to check.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::{Tansu, TempDir, free_port};

/// The one user the front knows.
pub const KAFKA_USER: &str = "karman";
/// Its password.
pub const KAFKA_PASSWORD: &str = "kafka-pw-4711";

const API_VERSIONS: i16 = 18;
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;
/// Kafka's error codes for a mechanism the listener does not enable, and a failed login.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const SASL_AUTHENTICATION_FAILED: i16 = 58;
const SCRAM_ITERATIONS: u32 = 4096;

/// The transport of the front's listener.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrontTls {
    /// Plain text.
    Off,
    /// TLS with a certificate of the test's CA (`ca.pem`, named in [`KafkaFront::properties`]).
    On,
    /// TLS, and the client must show a certificate of that CA (`client.pem`, `client-key.pem`).
    ClientCertificates,
}

/// The SASL mechanism the front enables (one, as a listener configured for it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrontSasl {
    Plain,
    ScramSha256,
}

impl FrontSasl {
    /// Its name in Kafka's protocol and in librdkafka's `sasl.mechanisms`.
    pub fn mechanism(self) -> &'static str {
        match self {
            FrontSasl::Plain => "PLAIN",
            FrontSasl::ScramSha256 => "SCRAM-SHA-256",
        }
    }
}

/// What the front saw of a connection.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FrontEvent {
    /// A TLS handshake that succeeded; whether the client showed a certificate.
    TlsAccepted { client_certificate: bool },
    /// A TLS handshake that failed, and why.
    TlsRefused(String),
    /// A SASL login that succeeded.
    Authenticated { mechanism: String, user: String },
    /// A SASL login, or a request before one, that the front refused.
    Refused { user: String, why: String },
}

/// A private tansu behind a TLS/SASL front; stops with the value.
pub struct KafkaFront {
    broker: Tansu,
    tls: FrontTls,
    sasl: Option<FrontSasl>,
    dir: TempDir,
    events: Arc<Mutex<Vec<FrontEvent>>>,
    task: tokio::task::JoinHandle<()>,
}

impl KafkaFront {
    /// Starts a broker and its front (inside a Tokio runtime).
    pub fn start(tls: FrontTls, sasl: Option<FrontSasl>) -> Self {
        let dir = TempDir::new("karman-kafka-front");
        let acceptor = (tls != FrontTls::Off).then(|| make_pki(&dir, tls));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let front = listener.local_addr().unwrap().to_string();
        let listener = TcpListener::from_std(listener).unwrap();
        let broker_port = free_port();
        let broker = Tansu::start_advertising(broker_port, &front)
            .with_client_properties(client_properties(tls, sasl, &dir, KAFKA_PASSWORD));
        let events = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept(
            listener,
            format!("127.0.0.1:{broker_port}"),
            acceptor,
            sasl,
            events.clone(),
        ));
        Self {
            broker,
            tls,
            sasl,
            dir,
            events,
            task,
        }
    }

    /// The broker as the test's own clients reach it: through the front, logged in.
    pub fn broker(&self) -> &Tansu {
        &self.broker
    }

    /// The librdkafka properties a client sets to get in, with `password` for the SASL user.
    pub fn properties(&self, password: &str) -> Vec<(String, String)> {
        client_properties(self.tls, self.sasl, &self.dir, password)
    }

    /// What the front has seen so far.
    pub fn events(&self) -> Vec<FrontEvent> {
        self.events.lock().unwrap().clone()
    }
}

impl Drop for KafkaFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn client_properties(
    tls: FrontTls,
    sasl: Option<FrontSasl>,
    dir: &TempDir,
    password: &str,
) -> Vec<(String, String)> {
    let file = |name: &str| dir.path().join(name).display().to_string();
    let protocol = match (tls, sasl) {
        (FrontTls::Off, None) => "PLAINTEXT",
        (FrontTls::Off, Some(_)) => "SASL_PLAINTEXT",
        (_, None) => "SSL",
        (_, Some(_)) => "SASL_SSL",
    };
    let mut properties = vec![("security.protocol".to_string(), protocol.to_string())];
    if tls != FrontTls::Off {
        properties.push(("ssl.ca.location".into(), file("ca.pem")));
    }
    if tls == FrontTls::ClientCertificates {
        properties.push(("ssl.certificate.location".into(), file("client.pem")));
        properties.push(("ssl.key.location".into(), file("client-key.pem")));
    }
    if let Some(sasl) = sasl {
        properties.push(("sasl.mechanisms".into(), sasl.mechanism().into()));
        properties.push(("sasl.username".into(), KAFKA_USER.into()));
        properties.push(("sasl.password".into(), password.into()));
    }
    properties
}

/// Writes the test CA, a server certificate for 127.0.0.1 and a client certificate into `dir`;
/// returns the acceptor serving the server certificate.
fn make_pki(dir: &TempDir, tls: FrontTls) -> TlsAcceptor {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "karman test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let mut server_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    // The advertised broker is `127.0.0.1:<port>`: librdkafka checks that name against the
    // certificate (`ssl.endpoint.identification.algorithm=https`).
    server_params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let server = server_params.signed_by(&server_key, &*ca).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "karman-client");
    let client = client_params.signed_by(&client_key, &*ca).unwrap();

    let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    write("ca.pem", ca.pem());
    write("client.pem", client.pem());
    write("client-key.pem", client_key.serialize_pem());

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if tls == FrontTls::ClientCertificates {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = builder
        .with_single_cert(vec![CertificateDer::from(server.der().to_vec())], key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

async fn accept(
    listener: TcpListener,
    broker: String,
    acceptor: Option<TlsAcceptor>,
    sasl: Option<FrontSasl>,
    events: Arc<Mutex<Vec<FrontEvent>>>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        let (broker, acceptor, events) = (broker.clone(), acceptor.clone(), events.clone());
        tokio::spawn(async move {
            let record = |event| events.lock().unwrap().push(event);
            match acceptor {
                None => {
                    let _ = pass_on(stream, &broker, sasl, &record).await;
                }
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => {
                        let client_certificate = stream.get_ref().1.peer_certificates().is_some();
                        record(FrontEvent::TlsAccepted { client_certificate });
                        let _ = pass_on(stream, &broker, sasl, &record).await;
                    }
                    Err(error) => record(FrontEvent::TlsRefused(error.to_string())),
                },
            }
        });
    }
}

/// Logs the client in (when the front asks for SASL), then copies both ways.
async fn pass_on<S: AsyncRead + AsyncWrite + Unpin>(
    mut client: S,
    broker: &str,
    sasl: Option<FrontSasl>,
    record: &impl Fn(FrontEvent),
) -> std::io::Result<()> {
    let mut upstream = TcpStream::connect(broker).await?;
    if let Some(sasl) = sasl
        && !authenticate(&mut client, &mut upstream, sasl, record).await?
    {
        return Ok(());
    }
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// The SASL exchange of Kafka's protocol (`SaslHandshake` v0–1, then `SaslAuthenticate` v0–1
/// rounds); true when the client is in.
async fn authenticate<C, B>(
    client: &mut C,
    broker: &mut B,
    sasl: FrontSasl,
    record: &impl Fn(FrontEvent),
) -> std::io::Result<bool>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let mut scram = Scram::Start;
    loop {
        let Some(frame) = read_frame(client).await? else {
            return Ok(false);
        };
        let request = Request::parse(&frame)?;
        match request.api_key {
            API_VERSIONS => {
                write_frame(broker, &frame).await?;
                let answer = read_frame(broker)
                    .await?
                    .ok_or_else(|| std::io::Error::other("the broker closed the connection"))?;
                write_frame(client, &answer).await?;
            }
            SASL_HANDSHAKE => {
                let asked = Reader(request.body).string()?;
                let enabled = asked == sasl.mechanism();
                let mut answer = request.correlation_id.to_be_bytes().to_vec();
                let error = if enabled {
                    0
                } else {
                    UNSUPPORTED_SASL_MECHANISM
                };
                answer.extend(error.to_be_bytes());
                answer.extend(1i32.to_be_bytes());
                put_string(&mut answer, sasl.mechanism());
                write_frame(client, &answer).await?;
                if !enabled {
                    record(FrontEvent::Refused {
                        user: String::new(),
                        why: format!("mechanism {asked} is not enabled"),
                    });
                    return Ok(false);
                }
            }
            SASL_AUTHENTICATE if request.api_version <= 1 => {
                let token = Reader(request.body).bytes()?;
                let step = match sasl {
                    FrontSasl::Plain => plain(token),
                    FrontSasl::ScramSha256 => scram.step(token),
                };
                let (error, message, reply) = match &step {
                    Step::Continue(reply) => (0, None, reply.as_slice()),
                    Step::Done { reply, .. } => (0, None, reply.as_slice()),
                    Step::Failed { why, .. } => {
                        (SASL_AUTHENTICATION_FAILED, Some(why.as_str()), &[][..])
                    }
                };
                let mut answer = request.correlation_id.to_be_bytes().to_vec();
                answer.extend(error.to_be_bytes());
                match message {
                    Some(message) => put_string(&mut answer, message),
                    None => answer.extend((-1i16).to_be_bytes()),
                }
                answer.extend((reply.len() as i32).to_be_bytes());
                answer.extend(reply);
                if request.api_version >= 1 {
                    answer.extend(0i64.to_be_bytes()); // session_lifetime_ms: no re-login
                }
                write_frame(client, &answer).await?;
                match step {
                    Step::Continue(_) => {}
                    Step::Done { user, .. } => {
                        record(FrontEvent::Authenticated {
                            mechanism: sasl.mechanism().to_string(),
                            user,
                        });
                        return Ok(true);
                    }
                    Step::Failed { user, why } => {
                        record(FrontEvent::Refused { user, why });
                        return Ok(false);
                    }
                }
            }
            other => {
                record(FrontEvent::Refused {
                    user: String::new(),
                    why: format!(
                        "request {other} v{} before authentication",
                        request.api_version
                    ),
                });
                return Ok(false);
            }
        }
    }
}

/// One round of a SASL login.
enum Step {
    /// The server's challenge; the client answers with another round.
    Continue(Vec<u8>),
    /// Logged in; the server's last message.
    Done { user: String, reply: Vec<u8> },
    /// Refused, and why.
    Failed { user: String, why: String },
}

/// PLAIN (RFC 4616): `authzid NUL user NUL password`, in one round.
fn plain(token: &[u8]) -> Step {
    let parts: Vec<&[u8]> = token.split(|b| *b == 0).collect();
    let [_authzid, user, password] = parts[..] else {
        return Step::Failed {
            user: String::new(),
            why: "malformed PLAIN message".into(),
        };
    };
    let user = String::from_utf8_lossy(user).into_owned();
    if user == KAFKA_USER && password == KAFKA_PASSWORD.as_bytes() {
        Step::Done {
            user,
            reply: Vec::new(),
        }
    } else {
        Step::Failed {
            user,
            why: "Invalid username or password".into(),
        }
    }
}

/// The server side of SCRAM-SHA-256 (RFC 5802), for the one user.
enum Scram {
    Start,
    /// The server's first message is sent.
    Challenged {
        user: String,
        gs2_header: String,
        client_first_bare: String,
        server_first: String,
        nonce: String,
        salt: Vec<u8>,
    },
    Finished,
}

impl Scram {
    fn step(&mut self, token: &[u8]) -> Step {
        let text = String::from_utf8_lossy(token).into_owned();
        match std::mem::replace(self, Scram::Finished) {
            Scram::Start => {
                // `n,,n=user,r=client-nonce` (no channel binding).
                let mut parts = text.splitn(3, ',');
                let (Some(binding), Some(_authzid), Some(bare)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return failed("", "malformed client-first-message");
                };
                if binding.starts_with('p') {
                    return failed("", "channel binding is not supported");
                }
                let user = attribute(bare, 'n').replace("=2C", ",").replace("=3D", "=");
                let client_nonce = attribute(bare, 'r');
                if user != KAFKA_USER {
                    return failed(&user, "Authentication failed: unknown user");
                }
                if client_nonce.is_empty() {
                    return failed(&user, "malformed client-first-message: no nonce");
                }
                let salt = uuid::Uuid::new_v4().as_bytes().to_vec();
                let nonce = format!("{client_nonce}{}", uuid::Uuid::new_v4().simple());
                let server_first =
                    format!("r={nonce},s={},i={SCRAM_ITERATIONS}", BASE64.encode(&salt));
                let reply = server_first.clone().into_bytes();
                *self = Scram::Challenged {
                    user,
                    gs2_header: text[..text.len() - bare.len()].to_string(),
                    client_first_bare: bare.to_string(),
                    server_first,
                    nonce,
                    salt,
                };
                Step::Continue(reply)
            }
            Scram::Challenged {
                user,
                gs2_header,
                client_first_bare,
                server_first,
                nonce,
                salt,
            } => {
                // `c=biws,r=nonce,p=proof`
                let Some((without_proof, proof)) = text.rsplit_once(",p=") else {
                    return failed(&user, "malformed client-final-message");
                };
                if attribute(without_proof, 'c') != BASE64.encode(&gs2_header)
                    || attribute(without_proof, 'r') != nonce
                {
                    return failed(&user, "the channel binding or the nonce does not match");
                }
                let Ok(proof) = BASE64.decode(proof) else {
                    return failed(&user, "malformed client proof");
                };
                let mut salted = [0u8; 32];
                ring::pbkdf2::derive(
                    ring::pbkdf2::PBKDF2_HMAC_SHA256,
                    NonZeroU32::new(SCRAM_ITERATIONS).unwrap(),
                    &salt,
                    KAFKA_PASSWORD.as_bytes(),
                    &mut salted,
                );
                let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
                let client_key = hmac(&salted, b"Client Key");
                let stored_key = ring::digest::digest(&ring::digest::SHA256, &client_key);
                let signature = hmac(stored_key.as_ref(), auth_message.as_bytes());
                let recovered: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
                if proof.len() != signature.len()
                    || ring::digest::digest(&ring::digest::SHA256, &recovered).as_ref()
                        != stored_key.as_ref()
                {
                    return failed(&user, "Authentication failed: invalid credentials");
                }
                let server_key = hmac(&salted, b"Server Key");
                let verifier = hmac(&server_key, auth_message.as_bytes());
                Step::Done {
                    user,
                    reply: format!("v={}", BASE64.encode(verifier)).into_bytes(),
                }
            }
            Scram::Finished => failed("", "the login is already over"),
        }
    }
}

fn failed(user: &str, why: &str) -> Step {
    Step::Failed {
        user: user.to_string(),
        why: why.to_string(),
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

/// The value of attribute `name` in a SCRAM message (`a=…,b=…`); empty when it is missing.
fn attribute(message: &str, name: char) -> String {
    message
        .split(',')
        .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_default()
        .to_string()
}

/// A request's header (v1: key, version, correlation id, client id) and body.
struct Request<'a> {
    api_key: i16,
    api_version: i16,
    correlation_id: i32,
    body: &'a [u8],
}

impl<'a> Request<'a> {
    fn parse(frame: &'a [u8]) -> std::io::Result<Self> {
        let mut reader = Reader(frame);
        let api_key = reader.i16()?;
        let api_version = reader.i16()?;
        let correlation_id = reader.i32()?;
        reader.string()?; // client id
        Ok(Self {
            api_key,
            api_version,
            correlation_id,
            body: reader.0,
        })
    }
}

/// Reads Kafka's big-endian primitives off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(std::io::Error::other("a Kafka request ends too early"));
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn i16(&mut self) -> std::io::Result<i16> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }

    fn i32(&mut self) -> std::io::Result<i32> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }

    /// A nullable string (`i16` length, -1 for null).
    fn string(&mut self) -> std::io::Result<String> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(String::new());
        }
        Ok(String::from_utf8_lossy(self.take(len as usize)?).into_owned())
    }

    /// Bytes (`i32` length).
    fn bytes(&mut self) -> std::io::Result<&'a [u8]> {
        let len = self.i32()?;
        self.take(len.max(0) as usize)
    }
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    out.extend((text.len() as i16).to_be_bytes());
    out.extend(text.as_bytes());
}

/// One size-prefixed frame; `None` at a clean end of the connection.
async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Option<Vec<u8>>> {
    let mut size = [0u8; 4];
    match stream.read_exact(&mut size).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let size = i32::from_be_bytes(size);
    if !(0..=16 << 20).contains(&size) {
        return Err(std::io::Error::other(format!(
            "a Kafka frame of {size} bytes"
        )));
    }
    let mut frame = vec![0; size as usize];
    stream.read_exact(&mut frame).await?;
    Ok(Some(frame))
}

async fn write_frame<S: AsyncWrite + Unpin>(stream: &mut S, frame: &[u8]) -> std::io::Result<()> {
    stream
        .write_all(&(frame.len() as i32).to_be_bytes())
        .await?;
    stream.write_all(frame).await?;
    stream.flush().await
}
