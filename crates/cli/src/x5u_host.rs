//! An HTTPS host on loopback that serves STIR/SHAKEN certificates as an `x5u` host would: a TLS
//! certificate for `localhost` from a CA made here (rcgen), one thread per connection, each
//! answer chosen by the caller from the request path. `bench --only stir` serves its signer from
//! it; the CLI's tests (which include this file) add the ways a host goes wrong.

use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;

/// An answer: the status line's text (`200 OK`), extra header lines (each ending `\r\n`), body.
pub type Answer = (&'static str, String, String);

/// Start the host. Returns its port and the PEM of the CA its TLS certificate chains to (what
/// the server's `[stir] fetch_ca_file` must name).
pub fn start(
    answer: impl Fn(&str) -> Answer + Send + Sync + 'static,
) -> anyhow::Result<(u16, String)> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "x5u host test CA");
    let ca = ca.self_signed(&ca_key)?;
    let key = rcgen::KeyPair::generate()?;
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])?
        .signed_by(&key, &ca, &ca_key)?;
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )?,
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (config, answer) = (config.clone(), answer.clone());
            std::thread::spawn(move || {
                let Ok(tls) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut s = rustls::StreamOwned::new(tls, conn);
                let mut line = String::new();
                if BufReader::new(&mut s).read_line(&mut line).is_err() {
                    return;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/");
                let (status, extra, body) = answer(path);
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
                    body.len()
                );
                let _ = s.flush();
                s.conn.send_close_notify();
                let _ = s.flush();
            });
        }
    });
    Ok((port, ca.pem()))
}
