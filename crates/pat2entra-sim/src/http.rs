//! A small HTTP/1.1 server: enough of the protocol for the simulator, with full control over
//! the faults it injects (dropped connections, truncated bodies).

use std::collections::HashMap;
use std::io;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const MAX_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;
const MAX_BODY: usize = 1024 * 1024;

/// A parsed request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Percent-decoded path segments.
    pub segments: Vec<String>,
    pub query: HashMap<String, String>,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    /// The body (the token endpoint's form).
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// A query parameter, names compared case-insensitively as the service does.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response, or a fault to act out instead of one.
#[derive(Debug, Clone)]
pub enum Reply {
    Response(Response),
    /// Close the connection without answering.
    Drop,
    /// Announce the full body, send only part of it, then close.
    Truncate(Response),
    /// Send half the body, wait, then the rest.
    Slow(Response, std::time::Duration),
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json; charset=utf-8; api-version=7.1".into())],
            body: serde_json::to_vec(value).expect("JSON values serialize"),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Reads one request; `Ok(None)` when the peer closed the connection between requests.
pub async fn read_request<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> io::Result<Option<Request>> {
    let mut line = Vec::new();
    if read_line(reader, &mut line).await? == 0 {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&line);
    let mut parts = text.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad request line"));
    };
    let method = method.to_string();
    let (path, query_string) = target.split_once('?').unwrap_or((target, ""));
    let segments = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let query = url::form_urlencoded::parse(query_string.as_bytes()).into_owned().collect();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        if read_line(reader, &mut line).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "headers cut short"));
        }
        let header = String::from_utf8_lossy(&line);
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "too many headers"));
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    if length > MAX_BODY {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Some(Request { method, segments, query, headers, body }))
}

async fn read_line<R: AsyncBufReadExt + Unpin>(reader: &mut R, line: &mut Vec<u8>) -> io::Result<usize> {
    let n = reader.read_until(b'\n', line).await?;
    if line.len() > MAX_LINE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    Ok(n)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Writes a response head and `body` (which may be shorter than `content_length`).
pub async fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await?;
    stream.flush().await
}

/// Serves one connection until the peer closes it or a fault ends it.
pub async fn serve_connection<F, Fut>(stream: TcpStream, handler: F)
where
    F: Fn(Request) -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader).await {
            Ok(Some(r)) => r,
            _ => return,
        };
        let keep_alive = !request.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let stream = reader.get_mut();
        match handler(request).await {
            Reply::Response(response) => {
                if write_response(stream, &response, &response.body, keep_alive).await.is_err() || !keep_alive {
                    return;
                }
            }
            Reply::Drop => return,
            Reply::Slow(response, pause) => {
                let half = response.body.len() / 2;
                if write_response(stream, &response, &response.body[..half], keep_alive).await.is_err() {
                    return;
                }
                tokio::time::sleep(pause).await;
                if stream.write_all(&response.body[half..]).await.is_err()
                    || stream.flush().await.is_err()
                    || !keep_alive
                {
                    return;
                }
            }
            Reply::Truncate(response) => {
                let half = &response.body[..response.body.len() / 2];
                let _ = write_response(stream, &response, half, true).await;
                let _ = stream.shutdown().await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parses_path_query_headers_and_body() {
        let raw = b"POST /Fabrikam/_apis/x%2By/aad.a%2Fb?pageSize=2&continuationToken=a%2Bb HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-TFS-FedAuthRedirect: Suppress\r\n\r\nabc";
        let mut reader = BufReader::new(&raw[..]);
        let r = read_request(&mut reader).await.unwrap().unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.segments, ["Fabrikam", "_apis", "x+y", "aad.a/b"]);
        assert_eq!(r.query("pagesize"), Some("2"));
        assert_eq!(r.query("continuationToken"), Some("a+b"));
        assert_eq!(r.header("x-tfs-fedauthredirect"), Some("Suppress"));
        assert_eq!(r.body, b"abc");
        assert!(read_request(&mut reader).await.unwrap().is_none());
    }
}
