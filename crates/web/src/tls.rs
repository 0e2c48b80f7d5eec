//! `serve --tls`: https for stations. Browsers give service workers and the
//! camera only to a secure context (https, or localhost), and a station reaches
//! the server at a LAN address; so the server speaks TLS itself, with a
//! certificate given by path, or one signed by a self-signed local CA that it
//! makes once and keeps (stations install the CA, `/tls/cert.pem`).
//!
//! The accept loop here shares `router()` with the plain-http `serve`: only
//! the transport differs. A failed or slow handshake drops that connection;
//! a plain-http request to the https port gets a redirect to https.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::AppState;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Validity of a generated server certificate: Apple devices refuse server
/// certificates valid for more than 825 days. It is remade before its end.
const LEAF_VALID_DAYS: i64 = 825;
/// Validity of the generated local CA that stations install.
const CA_VALID_DAYS: i64 = 3650;

/// The certificate the server presents, as stations see it.
#[derive(Clone)]
pub struct Served {
    /// PEM of what a station installs (never a key), served at
    /// `/tls/cert.pem`: the local CA when generated, else the given chain.
    pub cert_pem: String,
    /// SHA-256 of that certificate's DER (the CA, or the given leaf),
    /// `AB:CD:…` as browsers show it.
    pub fingerprint: String,
}

/// A loaded certificate and key, ready to serve.
pub struct Material {
    pub config: Arc<ServerConfig>,
    pub served: Served,
    /// The file stations install: the generated CA (`ca.pem`), or the given certificate.
    pub cert_path: PathBuf,
    /// SHA-256 of the certificate the server presents (its leaf).
    pub server_fingerprint: String,
    /// The names and addresses a generated certificate covers (empty for a given one).
    pub names: Vec<String>,
    /// The local CA was made on this start (stations must install it).
    pub generated: bool,
    /// The server certificate was made on this start (names grew, or it neared its end).
    pub renewed: bool,
    /// Names asked for that the kept CA may not vouch for: left out of the
    /// certificate (stations would refuse them).
    pub refused: Vec<String>,
}

fn err(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// SHA-256 fingerprint of a DER certificate, upper-case hex pairs joined by `:`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Loads a PEM certificate chain and private key given by path.
pub fn load(cert: &Path, key: &Path) -> io::Result<Material> {
    let cert_pem = std::fs::read_to_string(cert)
        .map_err(|e| err(format!("cannot read certificate {}: {e}", cert.display())))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("{}: not a PEM certificate: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(err(format!(
            "{}: no CERTIFICATE block in the file",
            cert.display()
        )));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        err(format!(
            "{}: no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
            key.display()
        ))
    })?;
    let served = Served {
        fingerprint: fingerprint(&chain[0]),
        cert_pem: chain
            .iter()
            .map(|c| pem_block("CERTIFICATE", c))
            .collect::<String>(),
    };
    let config = server_config(chain, key_der).map_err(|e| {
        err(format!(
            "{} and {} do not make a usable certificate: {e}",
            cert.display(),
            key.display()
        ))
    })?;
    Ok(Material {
        config,
        server_fingerprint: served.fingerprint.clone(),
        served,
        cert_path: cert.to_path_buf(),
        names: Vec::new(),
        generated: false,
        renewed: false,
        refused: Vec::new(),
    })
}

fn pem_block(label: &str, der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | (u32::from(x) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                b.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, tokio_rustls::rustls::Error> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The names a generated certificate covers: localhost, 127.0.0.1, the
/// machine's host name (and `NAME.local`), its non-loopback IPv4 addresses,
/// and the extra names given.
pub fn local_names(extra: &[String]) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if let Some(h) = host_name() {
        names.push(h.clone());
        if !h.contains('.') {
            names.push(format!("{h}.local"));
        }
    }
    names.extend(lan_ipv4s().iter().map(|ip| ip.to_string()));
    names.extend(extra.iter().map(|s| s.trim().to_string()));
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| !n.is_empty() && seen.insert(n.to_ascii_lowercase()));
    names
}

fn host_name() -> Option<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())?;
    let h = h.trim().to_ascii_lowercase();
    let ok = !h.is_empty()
        && h != "localhost"
        && h.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    ok.then_some(h)
}

/// The machine's non-loopback IPv4 addresses, in interface order.
pub fn lan_ipv4s() -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    for iface in if_addrs::get_if_addrs().unwrap_or_default() {
        if let IpAddr::V4(ip) = iface.ip() {
            if !ip.is_loopback() && !ip.is_unspecified() && !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// The first non-loopback IPv4 address: what a phone on the LAN opens.
pub fn lan_ipv4() -> Option<Ipv4Addr> {
    lan_ipv4s().into_iter().next()
}

/// The names a generated CA may vouch for: the machine's own names and
/// private address ranges (a stolen CA key cannot impersonate other sites to
/// the stations that trust it), plus the names given when it was made.
fn ca_permitted(names: &[String]) -> Vec<String> {
    let mut p: Vec<String> = ["localhost", "local", "lan", "home.arpa", "internal"]
        .iter()
        .map(|s| format!("dns {s}"))
        .collect();
    p.extend(
        [
            "127.0.0.0/8",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "169.254.0.0/16",
            "100.64.0.0/10",
            "::1/128",
        ]
        .iter()
        .map(|s| format!("ip {s}")),
    );
    for n in names {
        let entry = match n.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => format!("ip {ip}/32"),
            Ok(IpAddr::V6(ip)) => format!("ip {ip}/128"),
            Err(_) => format!("dns {}", n.to_ascii_lowercase()),
        };
        if !permits(&p, n) && !p.contains(&entry) {
            p.push(entry);
        }
    }
    p
}

/// Whether a name is inside the permitted subtrees (`dns NAME`, `ip ADDR/LEN`).
fn permits(permitted: &[String], name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let ip = name.parse::<IpAddr>().ok();
    permitted.iter().any(|p| match (p.split_once(' '), ip) {
        (Some(("dns", base)), None) => name == base || name.ends_with(&format!(".{base}")),
        (Some(("ip", cidr)), Some(ip)) => {
            parse_cidr(cidr).is_some_and(|(net, len)| match (net, ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => {
                    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                    u32::from(n) & mask == u32::from(a) & mask
                }
                (IpAddr::V6(n), IpAddr::V6(a)) => {
                    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                    u128::from(n) & mask == u128::from(a) & mask
                }
                _ => false,
            })
        }
        _ => false,
    })
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = s.split_once('/')?;
    Some((a.parse().ok()?, l.parse().ok()?))
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The kept local CA: made once, installed on the stations, never replaced
/// by the server (remove the folder to start over).
struct Ca {
    cert: CertificateDer<'static>,
    key: rcgen::KeyPair,
    /// Its common name (the issuer name of the certificates it signs).
    name: String,
    /// `dns NAME` / `ip ADDR/LEN` lines: what it may vouch for.
    permitted: Vec<String>,
}

fn random_serial() -> io::Result<rcgen::SerialNumber> {
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| err(format!("no randomness: {e}")))?;
    serial[0] &= 0x7f;
    Ok(rcgen::SerialNumber::from_slice(&serial))
}

fn validity(now_ms: i64, days: i64) -> io::Result<(time::OffsetDateTime, time::OffsetDateTime)> {
    // An hour back: a station whose clock is a little behind still accepts it.
    let start = time::OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000) - 3600)
        .map_err(|e| err(format!("clock: {e}")))?;
    Ok((start, start + time::Duration::days(days)))
}

fn ca_dn(name: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, name);
    dn.push(rcgen::DnType::OrganizationName, "Gridwarden self-signed");
    dn
}

fn ca_key_usages() -> Vec<rcgen::KeyUsagePurpose> {
    vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ]
}

fn make_ca(names: &[String], now_ms: i64) -> io::Result<(Ca, String, String)> {
    use rcgen::{BasicConstraints, CertificateParams, CidrSubnet, GeneralSubtree, IsCa};
    let mut id = [0u8; 4];
    getrandom::fill(&mut id).map_err(|e| err(format!("no randomness: {e}")))?;
    let host = host_name().unwrap_or_else(|| "localhost".into());
    let name = format!(
        "网格卫士 Gridwarden {host} {:02x}{:02x}{:02x}{:02x}",
        id[0], id[1], id[2], id[3]
    );
    let permitted = ca_permitted(names);
    let mut params = CertificateParams::default();
    (params.not_before, params.not_after) = validity(now_ms, CA_VALID_DAYS)?;
    params.distinguished_name = ca_dn(&name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = ca_key_usages();
    params.serial_number = Some(random_serial()?);
    let mut subtrees = Vec::new();
    for p in &permitted {
        match p.split_once(' ') {
            Some(("dns", d)) => subtrees.push(GeneralSubtree::DnsName(d.to_string())),
            Some(("ip", c)) => {
                if let Some((ip, len)) = parse_cidr(c) {
                    subtrees.push(GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
                        ip, len,
                    )));
                }
            }
            _ => {}
        }
    }
    params.name_constraints = Some(rcgen::NameConstraints {
        permitted_subtrees: subtrees,
        excluded_subtrees: Vec::new(),
    });
    let key = rcgen::KeyPair::generate().map_err(|e| err(format!("cannot make a key: {e}")))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| err(format!("cannot sign the CA certificate: {e}")))?;
    let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    Ok((
        Ca {
            cert: cert.der().clone(),
            key,
            name,
            permitted,
        },
        cert_pem,
        key_pem,
    ))
}

/// A server certificate for `names`, signed by the CA: its PEM and its key's PEM.
fn make_leaf(ca: &Ca, names: &[String], now_ms: i64) -> io::Result<(String, String)> {
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
    let mut params = CertificateParams::new(names.to_vec())
        .map_err(|e| err(format!("certificate names {names:?}: {e}")))?;
    (params.not_before, params.not_after) = validity(now_ms, LEAF_VALID_DAYS)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        format!(
            "网格卫士 Gridwarden {}",
            names.first().map_or("localhost", |n| n.as_str())
        ),
    );
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial()?);
    let mut issuer_params = CertificateParams::default();
    issuer_params.distinguished_name = ca_dn(&ca.name);
    issuer_params.key_usages = ca_key_usages();
    let issuer = rcgen::Issuer::new(issuer_params, &ca.key);
    let key = KeyPair::generate().map_err(|e| err(format!("cannot make a key: {e}")))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| err(format!("cannot sign the server certificate: {e}")))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Loads or makes the certificates kept in `dir`: a local CA (`ca.pem`,
/// `ca-key.pem`) made once, which stations install, and a server certificate
/// (`cert.pem` with the CA after it, `key.pem`) signed by it, made anew when
/// `names` grow or it nears its end, so stations keep trusting the server
/// when its LAN address changes. Key files have mode 0600.
pub fn load_or_generate(dir: &Path, names: &[String], now_ms: i64) -> io::Result<Material> {
    let ca_path = dir.join("ca.pem");
    let ca_key_path = dir.join("ca-key.pem");
    let ca_info_path = dir.join("ca.txt");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let names_path = dir.join("names.txt");
    std::fs::create_dir_all(dir)
        .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;

    let have_ca = ca_path.exists() && ca_key_path.exists() && ca_info_path.exists();
    let ca = if have_ca {
        let cert = CertificateDer::from_pem_file(&ca_path)
            .map_err(|e| err(format!("{}: not a PEM certificate: {e}", ca_path.display())))?;
        let key_pem = std::fs::read_to_string(&ca_key_path)
            .map_err(|e| err(format!("cannot read {}: {e}", ca_key_path.display())))?;
        let key = rcgen::KeyPair::from_pem(&key_pem)
            .map_err(|e| err(format!("{}: not a usable key: {e}", ca_key_path.display())))?;
        let mut info = read_lines(&ca_info_path).into_iter();
        let name = info
            .next()
            .ok_or_else(|| err(format!("{} is empty", ca_info_path.display())))?;
        Ca {
            cert,
            key,
            name,
            permitted: info.collect(),
        }
    } else {
        let (ca, cert_pem, key_pem) = make_ca(names, now_ms)?;
        // Key first, certificate last: a start cut short finds no CA and makes one.
        write_file(&ca_key_path, key_pem.as_bytes(), true)?;
        let info = std::iter::once(ca.name.clone())
            .chain(ca.permitted.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n");
        write_file(&ca_info_path, (info + "\n").as_bytes(), false)?;
        write_file(&ca_path, cert_pem.as_bytes(), false)?;
        ca
    };

    let kept = read_lines(&names_path);
    let fresh = std::fs::metadata(&cert_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .is_some_and(|t| {
            let age_days = (now_ms - t.as_millis() as i64) / 86_400_000;
            age_days < LEAF_VALID_DAYS - 30
        });
    // A name the CA may not vouch for never enters the certificate: asking
    // for it again is no reason to make a new one on every start.
    let refused: Vec<String> = if have_ca {
        names
            .iter()
            .filter(|n| !permits(&ca.permitted, n))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let covered = names
        .iter()
        .filter(|n| !refused.contains(n))
        .all(|n| kept.iter().any(|k| k.eq_ignore_ascii_case(n)));
    let reuse = have_ca && fresh && covered && key_path.exists();
    let mut leaf_names = if have_ca { kept } else { Vec::new() };
    if !reuse {
        for n in names {
            if !leaf_names.iter().any(|k| k.eq_ignore_ascii_case(n)) {
                leaf_names.push(n.clone());
            }
        }
        // Names the CA may not vouch for would make stations refuse the
        // server: leave them out, and say so.
        let (ok, left_out): (Vec<String>, Vec<String>) = leaf_names
            .into_iter()
            .partition(|n| permits(&ca.permitted, n));
        for n in &left_out {
            tracing::warn!(name = %n, dir = %dir.display(), "the kept CA may not vouch for this name: remove the folder to make a new CA (stations then install it again)");
        }
        leaf_names = ok;
        let (leaf_pem, key_pem) = make_leaf(&ca, &leaf_names, now_ms)?;
        let ca_pem = pem_block("CERTIFICATE", &ca.cert);
        write_file(&key_path, key_pem.as_bytes(), true)?;
        write_file(
            &names_path,
            (leaf_names.join("\n") + "\n").as_bytes(),
            false,
        )?;
        write_file(&cert_path, (leaf_pem + &ca_pem).as_bytes(), false)?;
    }
    let mut m = load(&cert_path, &key_path)?;
    m.server_fingerprint = m.served.fingerprint.clone();
    m.served = Served {
        cert_pem: pem_block("CERTIFICATE", &ca.cert),
        fingerprint: fingerprint(&ca.cert),
    };
    m.cert_path = ca_path;
    m.names = leaf_names;
    m.generated = !have_ca;
    m.renewed = have_ca && !reuse;
    m.refused = refused;
    Ok(m)
}

fn write_file(path: &Path, bytes: &[u8], secret: bool) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let write = || -> io::Result<()> {
        use std::io::Write;
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| err(format!("cannot write {}: {e}", path.display())))
}

/// `GET /tls/cert.pem`: the certificate (never the key), for a station to
/// install; 404 when the server does not speak TLS.
pub async fn cert_pem(State(s): State<AppState>) -> Response {
    match &s.tls {
        Some(t) => (
            [
                (header::CONTENT_TYPE, "application/x-pem-file"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"gridwarden-cert.pem\"",
                ),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            t.cert_pem.clone(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "此服务器未启用 https / this server does not serve https\n",
        )
            .into_response(),
    }
}

/// Serves the router over TLS on a bound listener until Ctrl-C.
pub async fn serve_tls(
    listener: TcpListener,
    state: AppState,
    config: Arc<ServerConfig>,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    let timeout = state.request_timeout;
    crate::listen::serve_loop(listener, crate::router(state), timeout, move |tcp, peer| {
        handshake(acceptor.clone(), tcp, peer)
    })
    .await
}

/// The TLS side of a new connection: `None` when it is not TLS (answered
/// with a redirect to https) or the handshake fails or is too slow.
async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    // A TLS connection starts with a handshake record (0x16); anything else
    // is most likely plain http typed into the address bar.
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] != 0x16 => {
            redirect_plain_http(tcp, peer).await;
            return None;
        }
        Ok(Ok(1)) => {}
        _ => return None,
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// Answers a plain-http request on the https port with a redirect to the
/// same address over https (or a short 400 when the request has no Host).
async fn redirect_plain_http(mut tcp: TcpStream, peer: SocketAddr) {
    let mut buf = vec![0u8; 8192];
    let mut n = 0;
    while n < buf.len() {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.read(&mut buf[n..])).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(k)) => n += k,
        }
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    let path = head
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .filter(|p| p.starts_with('/') && !p.contains(['\r', '\n']))
        .unwrap_or("/");
    let host = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-:[]".contains(&c))
        });
    tracing::info!(%peer, "plain http on the https port");
    let body =
        "此端口使用 https，请改用 https:// 打开 / this port speaks https: open it with https://\n";
    let res = match host {
        Some(h) => format!(
            "HTTP/1.1 301 Moved Permanently\r\nLocation: https://{h}{path}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        None => format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    };
    let _ = tcp.write_all(res.as_bytes()).await;
    let _ = tcp.shutdown().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::client::danger::ServerCertVerifier;

    #[test]
    fn pem_blocks_match_rcgens_encoding() {
        for n in 0..4 {
            let names = vec![format!("n{n}.lan"); n + 1];
            let c = rcgen::generate_simple_self_signed(names).unwrap();
            assert_eq!(
                pem_block("CERTIFICATE", c.cert.der()),
                c.cert.pem().replace("\r\n", "\n")
            );
        }
    }

    #[test]
    fn permitted_names_are_the_machines_and_private_ranges() {
        let p = ca_permitted(&["gw.example.test".into(), "203.0.113.7".into()]);
        for ok in [
            "localhost",
            "scan.lan",
            "vm.local",
            "gw.example.test",
            "a.gw.example.test",
            "10.1.2.3",
            "192.168.0.9",
            "172.31.255.1",
            "203.0.113.7",
            "::1",
        ] {
            assert!(permits(&p, ok), "{ok}");
        }
        for no in [
            "example.test",
            "evil.com",
            "xlocalhost",
            "8.8.8.8",
            "172.32.0.1",
            "203.0.113.8",
        ] {
            assert!(!permits(&p, no), "{no}");
        }
    }

    /// A client that trusts the CA refuses a certificate it signed for a
    /// name outside its constraints: a stolen CA key cannot impersonate
    /// other sites to the stations.
    #[test]
    fn clients_enforce_the_cas_name_constraints() {
        let (ca, _, _) = make_ca(&["gw.example.test".into()], 1_790_000_000_000).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        let now = rustls_pki_types::UnixTime::since_unix_epoch(Duration::from_secs(1_790_000_100));
        let check = |name: &str| {
            let (pem, _) = make_leaf(&ca, &[name.to_string()], 1_790_000_000_000).unwrap();
            let leaf = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            let server = rustls_pki_types::ServerName::try_from(name.to_string()).unwrap();
            verifier.verify_server_cert(&leaf, &[], &server, &[], now)
        };
        for ok in ["gw.example.test", "scan.lan", "192.168.1.20", "localhost"] {
            check(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for no in ["www.bank.example", "8.8.8.8"] {
            assert!(check(no).is_err(), "{no} is outside the CA's constraints");
        }
    }
}
