//! `serve --tls`: the real binary over https, checked by a rustls client that
//! trusts exactly the certificate the server made (or was given).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls;

use crate::harness::{TestEnv, BIN};

pub(crate) struct TlsServer {
    child: Child,
    /// `127.0.0.1:PORT`
    pub(crate) addr: String,
    /// Lines printed before serving.
    out: Vec<String>,
    _stdout: BufReader<ChildStdout>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsServer {
    /// Starts the server and reads its start-up lines: up to the trust
    /// advice, the stations' address, then `more` (the first-admin line).
    pub(crate) fn start(env: &TestEnv, bind: &str, extra: &[&str], more: usize) -> TlsServer {
        let mut args = vec!["serve", "--db", &env.url, "--bind", bind, "--tls"];
        args.extend(extra);
        let mut child = Command::new(BIN)
            .args(&args)
            .env("GRIDWARDEN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn server");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut out = Vec::new();
        loop {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).expect("read");
            assert!(n > 0, "server stopped before serving: {out:?}");
            let done = line.contains("to make a station trust it");
            out.push(line.trim_end().to_string());
            if done {
                break;
            }
        }
        if bind.starts_with("0.0.0.0") && gw_web::tls::lan_ipv4().is_some() {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read");
            out.push(line.trim_end().to_string());
        }
        for _ in 0..more {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read");
            out.push(line.trim_end().to_string());
        }
        let first = &out[0];
        let start = first.find("https://").expect("https URL in first line") + 8;
        let hostport = &first[start..start + first[start..].find('/').unwrap()];
        let port = hostport.rsplit(':').next().unwrap();
        TlsServer {
            child,
            addr: format!("127.0.0.1:{port}"),
            out,
            _stdout: stdout,
        }
    }

    fn line(&self, marker: &str) -> &str {
        let l = self
            .out
            .iter()
            .find(|l| l.contains(marker))
            .unwrap_or_else(|| panic!("no line with {marker:?} in {:?}", self.out));
        l[l.find(marker).unwrap() + marker.len()..].trim()
    }

    fn fingerprint(&self) -> String {
        self.line("SHA-256 fingerprint:").to_string()
    }
}

fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn cert_of(pem: &[u8]) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem).expect("a PEM certificate")
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// One request over TLS to `addr`, trusting only `trusted`, naming the server
/// `name` (SNI and certificate check).
fn https(
    addr: &str,
    trusted: &CertificateDer<'static>,
    name: &str,
    req: &str,
) -> Result<Reply, std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).expect("trust anchor");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(
        Arc::new(config),
        ServerName::try_from(name.to_string()).unwrap(),
    )
    .unwrap();
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(20)))?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e),
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Ok(Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

fn get(addr: &str, trusted: &CertificateDer<'static>, path: &str) -> Reply {
    https(
        addr,
        trusted,
        "localhost",
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
    .unwrap_or_else(|e| panic!("GET {path} over TLS: {e}"))
}

fn plain(addr: &str, req: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.write_all(req).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).to_string()
}

/// `--tls-dir` on PostgreSQL (no database file to sit beside); on SQLite
/// the default `FILE.tls/` next to the database.
pub(crate) fn tls_dir(env: &TestEnv) -> (PathBuf, Vec<String>) {
    if env.backend == "sqlite" {
        (PathBuf::from(format!("{}.tls", env.url)), Vec::new())
    } else {
        let d = env.path("certs");
        (d.clone(), vec!["--tls-dir".into(), d.display().to_string()])
    }
}

#[tokio::test]
async fn serve_tls_makes_a_certificate_once_serves_https_and_keeps_it() {
    let env = TestEnv::new().await;
    let (dir, extra) = tls_dir(&env);
    let mut extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    extra.extend(["--tls-name", "gw.example.test"]);
    let srv = TlsServer::start(&env, "127.0.0.1:0", &extra, 1);

    // A local CA made now, kept next to the database, keys private; the
    // server certificate it signed covers the names.
    let made = srv.line("self-signed CA made:");
    let ca_path = made.split("  (").next().unwrap();
    assert_eq!(Path::new(ca_path), dir.join("ca.pem"));
    assert!(
        made.contains("localhost")
            && made.contains("127.0.0.1")
            && made.contains("gw.example.test"),
        "{made}"
    );
    let pem = std::fs::read(dir.join("ca.pem")).unwrap();
    let cert = cert_of(&pem);
    assert_eq!(
        srv.fingerprint(),
        fingerprint(&cert),
        "the printed fingerprint is the CA's"
    );
    let chain: Vec<CertificateDer> =
        CertificateDer::pem_slice_iter(&std::fs::read(dir.join("cert.pem")).unwrap())
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(chain.len(), 2, "server certificate, then the CA");
    assert_eq!(chain[1], cert);
    assert_eq!(
        srv.line("server certificate SHA-256:"),
        fingerprint(&chain[0])
    );
    #[cfg(unix)]
    for key in ["key.pem", "ca-key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key} is readable by its owner only");
    }
    assert!(srv
        .line("to make a station trust it:")
        .contains("/tls/cert.pem"));

    // https with a client that trusts exactly this certificate, by name and by address.
    let h = get(&srv.addr, &cert, "/healthz");
    assert_eq!(h.status, 200, "{}", h.body);
    assert!(h.body.contains(r#""status":"ok""#), "{}", h.body);
    assert!(h.body.contains(env.backend), "{}", h.body);
    for name in ["127.0.0.1", "gw.example.test"] {
        let r = https(
            &srv.addr,
            &cert,
            name,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.status, 200);
    }
    // A name the certificate does not cover, and a client trusting another
    // certificate, are refused by the client.
    assert!(https(
        &srv.addr,
        &cert,
        "elsewhere.test",
        "GET /healthz HTTP/1.1\r\n\r\n"
    )
    .is_err());
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    assert!(https(
        &srv.addr,
        other.cert.der(),
        "localhost",
        "GET /healthz HTTP/1.1\r\n\r\n"
    )
    .is_err());

    // The certificate (never the key) at /tls/cert.pem.
    let served = get(&srv.addr, &cert, "/tls/cert.pem");
    assert_eq!(served.status, 200);
    assert!(!served.body.contains("PRIVATE KEY"));
    assert_eq!(cert_of(served.body.as_bytes()), cert);

    // Sessions over TLS carry Secure cookies.
    let admin_pw = srv
        .out
        .iter()
        .find_map(|l| l.split("one-time password ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .expect("first-admin password printed")
        .to_string();
    let body = format!("username=admin&password={admin_pw}");
    let login = https(
        &srv.addr,
        &cert,
        "localhost",
        &format!("POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}", body.len()),
    )
    .unwrap();
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login
        .head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: gw_session"))
        .unwrap_or_else(|| panic!("session cookie: {}", login.head));
    assert!(cookie.contains("Secure"), "{cookie}");

    // Plain http to the https port: a redirect to https, nothing served in clear.
    let p = plain(
        &srv.addr,
        format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", srv.addr).as_bytes(),
    );
    assert!(p.starts_with("HTTP/1.1 301"), "{p}");
    assert!(
        p.contains(&format!("Location: https://{}/healthz", srv.addr)),
        "{p}"
    );
    assert!(!p.contains("\"status\""), "{p}");
    // A broken handshake and a silent client are dropped; the server goes on.
    let junk = plain(&srv.addr, &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
    assert!(!junk.contains("HTTP/1.1 200"));
    let idle = TcpStream::connect(&srv.addr).unwrap();
    assert_eq!(get(&srv.addr, &cert, "/healthz").status, 200);
    drop(idle);

    // Restarted: the same certificates, not new ones.
    drop(srv);
    let leaf = std::fs::read(dir.join("cert.pem")).unwrap();
    let again = TlsServer::start(&env, "127.0.0.1:0", &extra, 0);
    assert!(
        again.out.iter().all(|l| !l.contains("CA made")),
        "{:?}",
        again.out
    );
    let kept = again.line("证书 certificate:");
    assert!(!kept.contains("renewed"), "{kept}");
    assert_eq!(
        Path::new(kept.split("  (").next().unwrap()),
        dir.join("ca.pem")
    );
    assert_eq!(again.fingerprint(), fingerprint(&cert));
    assert_eq!(std::fs::read(dir.join("ca.pem")).unwrap(), pem);
    assert_eq!(std::fs::read(dir.join("cert.pem")).unwrap(), leaf);
    assert_eq!(get(&again.addr, &cert, "/healthz").status, 200);
    drop(again);

    // A new name: a new server certificate from the same CA, so stations
    // keep trusting it; a name the CA may not vouch for is left out.
    let mut more = extra.clone();
    more.extend([
        "--tls-name",
        "scan.lan",
        "--tls-name",
        "outside.example.com",
    ]);
    let renewed = TlsServer::start(&env, "127.0.0.1:0", &more, 0);
    assert!(renewed.line("证书 certificate:").contains("renewed"));
    assert_eq!(renewed.fingerprint(), fingerprint(&cert));
    assert_ne!(std::fs::read(dir.join("cert.pem")).unwrap(), leaf);
    let req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for name in ["scan.lan", "gw.example.test", "localhost"] {
        let r = https(&renewed.addr, &cert, name, req).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.status, 200);
    }
    assert!(https(&renewed.addr, &cert, "outside.example.com", req).is_err());
    // Said at the start, in Chinese first, naming the way out.
    assert!(renewed
        .line("注意：已有的自签名根证书不能为")
        .contains("outside.example.com"));
    drop(renewed);
    // Started again with the same names: the certificate stands (the name
    // left out is no reason to make a new one every time).
    let issued = std::fs::read(dir.join("cert.pem")).unwrap();
    let same = TlsServer::start(&env, "127.0.0.1:0", &more, 0);
    assert!(!same.line("证书 certificate:").contains("renewed"));
    assert_eq!(std::fs::read(dir.join("cert.pem")).unwrap(), issued);
}

#[tokio::test]
async fn serve_tls_with_a_given_certificate_and_key() {
    let env = TestEnv::new().await;
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_file = env.path("given-cert.pem");
    let key_file = env.path("given-key.pem");
    std::fs::write(&cert_file, made.cert.pem()).unwrap();
    std::fs::write(&key_file, made.signing_key.serialize_pem()).unwrap();
    let (c, k) = (
        cert_file.display().to_string(),
        key_file.display().to_string(),
    );

    let srv = TlsServer::start(&env, "127.0.0.1:0", &["--cert", &c, "--key", &k], 1);
    assert_eq!(srv.line("证书 certificate:"), c);
    assert_eq!(srv.fingerprint(), fingerprint(made.cert.der()));
    let r = get(&srv.addr, made.cert.der(), "/healthz");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        &cert_of(
            get(&srv.addr, made.cert.der(), "/tls/cert.pem")
                .body
                .as_bytes()
        ),
        made.cert.der()
    );
    assert!(
        !Path::new(&format!("{}.tls", env.url)).exists(),
        "nothing generated"
    );
    drop(srv);

    // A key that is not a key: a clear error naming the file, no server.
    std::fs::write(&key_file, "not a key\n").unwrap();
    let out = env.cli(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--tls",
        "--cert",
        &c,
        "--key",
        &k,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("given-key.pem") && err.contains("private key"),
        "{err}"
    );
    // --cert without --key is refused by the argument parser.
    let out = env.cli(&["serve", "--tls", "--cert", &c]);
    assert!(!out.status.success());
}

#[tokio::test]
async fn enrolment_links_use_https_and_the_lan_address() {
    let env = TestEnv::new().await;
    env.cli_ok(&["demo", "--residents", "200", "--seed", "4", "--no-serve"]);
    let pw = env.account("chief", "street_commander", &["--street", "鸿城街道"]);
    let (dir, extra) = tls_dir(&env);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let srv = TlsServer::start(&env, "0.0.0.0:0", &extra, 0);
    let cert = cert_of(&std::fs::read(dir.join("ca.pem")).unwrap());
    let port = srv.addr.rsplit(':').next().unwrap().to_string();
    let lan = gw_web::tls::lan_ipv4();
    if let Some(ip) = lan {
        assert!(!ip.is_loopback());
        assert_eq!(
            srv.line("stations open:"),
            format!("https://{ip}:{port}/station")
        );
        assert!(
            srv.line("self-signed CA made:").contains(&ip.to_string()),
            "the LAN address is in the certificate"
        );
    }

    let api = |method: &str,
               path: &str,
               token: &str,
               body: serde_json::Value|
     -> serde_json::Value {
        let b = body.to_string();
        let auth = if token == "-" {
            String::new()
        } else {
            format!("Authorization: Bearer {token}\r\n")
        };
        let r = https(&srv.addr, &cert, "localhost", &format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len())).unwrap();
        assert!(r.status < 300, "{path}: {} {}", r.status, r.body);
        serde_json::from_str(&r.body).unwrap()
    };
    let first = api(
        "POST",
        "/api/v1/login",
        "-",
        json!({ "username": "chief", "password": pw }),
    );
    let pw2 = format!("{pw}-changed");
    api(
        "POST",
        "/api/v1/password",
        first["token"].as_str().unwrap(),
        json!({ "old": pw, "new": pw2 }),
    );
    let token = api(
        "POST",
        "/api/v1/login",
        "-",
        json!({ "username": "chief", "password": pw2 }),
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    let store = env.store().await;
    let street = store.streets().await.unwrap()[0].id;
    let c = store.communities(None, Some(street)).await.unwrap()[0].id;
    let round = api("POST", "/api/v1/rounds", &token, json!({ "street": street, "name": "第1轮", "starts_ms": 0, "ends_ms": 4_102_444_800_000_i64, "pool_size": 10 }))["id"].as_str().unwrap().to_string();
    api(
        "POST",
        &format!("/api/v1/rounds/{round}/open"),
        &token,
        json!({}),
    );
    let point = api(
        "POST",
        &format!("/api/v1/rounds/{round}/points"),
        &token,
        json!({ "name": "3号采样点", "community": format!("{street}-{c}") }),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The form, with a cookie session, as the browser on the server itself.
    let body = format!("username=chief&password={pw2}");
    let login = https(&srv.addr, &cert, "localhost", &format!("POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}", body.len())).unwrap();
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login
        .head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let issue = |host: &str| -> String {
        let home = https(
            &srv.addr,
            &cert,
            "localhost",
            &format!(
                "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
            ),
        )
        .unwrap();
        let csrf = home
            .body
            .split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_string();
        let body = format!("csrf={csrf}&label=1");
        let issued = https(&srv.addr, &cert, "localhost", &format!("POST /points/{point}/stations HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}", body.len())).unwrap();
        assert_eq!(issued.status, 201, "{}", issued.body);
        issued
            .body
            .split(r#"id="enroll-link" href=""#)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_string()
    };
    // Opened on the server as localhost: the link a phone can open.
    let link = issue(&format!("localhost:{port}"));
    match lan {
        Some(ip) => assert!(
            link.starts_with(&format!("https://{ip}:{port}/station?code=en.")),
            "{link}"
        ),
        None => assert!(
            link.starts_with(&format!("https://localhost:{port}/station?code=en.")),
            "{link}"
        ),
    }
    // Opened at a LAN name: that name, over https.
    let link = issue("gw.lan:8443");
    assert!(
        link.starts_with("https://gw.lan:8443/station?code=en."),
        "{link}"
    );
    let code = link.split("code=").nth(1).unwrap();
    let enrolled = api("POST", "/api/v1/enroll", "-", json!({ "code": code }));
    assert_eq!(enrolled["point_name"], "3号采样点");
}
