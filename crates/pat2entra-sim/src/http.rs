//! The simulator's HTTP side, on hyper's HTTP/1.1 server: requests turned into the simulator's
//! small `Request`, its `Reply` turned into a response, and the faults acted out on the wire.
//!
//! How each fault reaches the client:
//! - `Reply::Drop`: the service fails, so hyper closes the connection without a response.
//! - `Reply::Truncate`: the body announces its full length (`Content-Length`), sends half, then
//!   fails; hyper closes the connection mid-body and the client reads fewer bytes than announced.
//! - `Reply::Slow`: the body sends half, waits, then sends the rest.

use http_body_util::{BodyExt as _, Limited};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Largest request body read (the token endpoint's form is a few hundred bytes).
const MAX_BODY: usize = 1024 * 1024;
/// Largest request head (request line and headers).
const MAX_HEAD: usize = 64 * 1024;

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
    Slow(Response, Duration),
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

/// Why the simulator ends a connection without (completing) an answer.
#[derive(Debug, thiserror::Error)]
pub enum Abort {
    #[error("simulated fault: connection dropped without an answer")]
    Dropped,
    #[error("simulated fault: body cut short")]
    Truncated,
    #[error("request body unreadable or larger than {MAX_BODY} bytes")]
    BadRequestBody,
}

/// Reads a hyper request into the simulator's shape; `Err` when its body is cut short or too
/// large (the connection is then closed, as the hand-written server did).
pub async fn read_request<B>(request: hyper::Request<B>) -> Result<Request, Abort>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let segments = parts.uri.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let query = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    // Header names come lower-cased from hyper; a repeated header keeps its last value.
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).trim().to_string()))
        .collect();
    let body = Limited::new(body, MAX_BODY).collect().await.map_err(|_| Abort::BadRequestBody)?.to_bytes().to_vec();
    Ok(Request { method: parts.method.as_str().to_string(), segments, query, headers, body })
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The hyper response for a reply; `Err` for a dropped connection (hyper then closes it
/// without writing anything).
pub fn into_response(reply: Reply) -> Result<hyper::Response<SimBody>, Abort> {
    let (response, body) = match reply {
        Reply::Drop => return Err(Abort::Dropped),
        Reply::Response(mut r) => {
            let body = SimBody::whole(std::mem::take(&mut r.body));
            (r, body)
        }
        Reply::Truncate(mut r) => {
            let body = SimBody::truncated(std::mem::take(&mut r.body));
            (r, body)
        }
        Reply::Slow(mut r, pause) => {
            let body = SimBody::slow(std::mem::take(&mut r.body), pause);
            (r, body)
        }
    };
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    // Only a bug in the simulator (a bad status or header) gets here: say so on the wire.
    Ok(builder.body(body).unwrap_or_else(|e| {
        let mut r = hyper::Response::new(SimBody::whole(format!("simulator bug: {e}").into_bytes()));
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        r
    }))
}

/// A response body that can misbehave. Its size hint is the full length, which hyper announces
/// as `Content-Length` even when the body then stops short.
pub struct SimBody {
    /// Sent first.
    head: Option<Bytes>,
    /// Waited for after `head`.
    pause: Option<Pause>,
    /// Sent after the pause, unless `cut`.
    tail: Option<Bytes>,
    /// Fail after the pause instead of sending `tail`.
    cut: bool,
    announced: u64,
}

enum Pause {
    /// The slow-body wait (timer-driven: virtual under a paused tokio clock).
    Sleep(Pin<Box<tokio::time::Sleep>>),
    /// One turn of the scheduler, so hyper flushes `head` to the socket before the cut.
    Yield,
}

impl SimBody {
    fn whole(body: Vec<u8>) -> Self {
        let announced = body.len() as u64;
        SimBody { head: non_empty(Bytes::from(body)), pause: None, tail: None, cut: false, announced }
    }

    fn split(body: Vec<u8>, pause: Pause, cut: bool) -> Self {
        let announced = body.len() as u64;
        let mut head = Bytes::from(body);
        let tail = head.split_off(head.len() / 2);
        SimBody { head: non_empty(head), pause: Some(pause), tail: non_empty(tail), cut, announced }
    }

    fn truncated(body: Vec<u8>) -> Self {
        Self::split(body, Pause::Yield, true)
    }

    fn slow(body: Vec<u8>, pause: Duration) -> Self {
        Self::split(body, Pause::Sleep(Box::pin(tokio::time::sleep(pause))), false)
    }
}

fn non_empty(bytes: Bytes) -> Option<Bytes> {
    (!bytes.is_empty()).then_some(bytes)
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = Abort;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Abort>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        match self.pause.as_mut() {
            Some(Pause::Sleep(sleep)) => {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.pause = None;
            }
            Some(Pause::Yield) => {
                self.pause = None;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            None => {}
        }
        if self.cut {
            self.cut = false;
            self.tail = None;
            return Poll::Ready(Some(Err(Abort::Truncated)));
        }
        Poll::Ready(self.tail.take().map(|tail| Ok(Frame::data(tail))))
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_none() && self.pause.is_none() && self.tail.is_none() && !self.cut
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.announced)
    }
}

/// Serves HTTP/1.1 on `listener` until `shutdown`'s sender is dropped: then it stops accepting,
/// lets each connection finish the request it is answering, and closes it.
pub async fn serve<H, Fut>(listener: TcpListener, handler: H, shutdown: watch::Receiver<()>)
where
    H: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let connections = shutdown.clone();
    accept_loop(
        || listener.accept(),
        move |(stream, _)| {
            tokio::spawn(serve_connection(stream, handler.clone(), connections.clone()));
        },
        shutdown,
    )
    .await;
}

/// Accepts until shutdown. An error that concerns one connection (reset or aborted before it
/// was accepted) is skipped; any other (EMFILE, ENFILE, ENOBUFS…) would come back at once, so
/// the loop backs off, from 10 ms doubling up to 1 s, instead of spinning.
async fn accept_loop<A, AF, T, C>(mut accept: A, mut on_connection: C, mut shutdown: watch::Receiver<()>)
where
    A: FnMut() -> AF,
    AF: Future<Output = io::Result<T>>,
    C: FnMut(T),
{
    const FIRST_BACKOFF: Duration = Duration::from_millis(10);
    const MAX_BACKOFF: Duration = Duration::from_secs(1);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let accepted = tokio::select! {
            accepted = accept() => accepted,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok(connection) => {
                backoff = FIRST_BACKOFF;
                on_connection(connection);
            }
            Err(e) if is_connection_error(&e) => {
                tracing::debug!("simulator: a connection failed before it was accepted: {e}");
            }
            Err(e) => {
                tracing::warn!("simulator: cannot accept connections ({e}); retrying in {} ms", backoff.as_millis());
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    )
}

/// Serves one connection until the peer closes it, a fault ends it, or shutdown.
async fn serve_connection<H, Fut>(stream: TcpStream, handler: H, mut shutdown: watch::Receiver<()>)
where
    H: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let handler = handler.clone();
        async move { into_response(handler(read_request(request).await?).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD)
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    // An error here is a fault the simulator injected or a client that went away: nothing to do.
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("simulator: connection ended: {e}");
            }
            return;
        }
        _ = shutdown.changed() => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;

    #[tokio::test]
    async fn reads_path_query_headers_and_body() {
        let request = hyper::Request::post("/Fabrikam/_apis/x%2By/aad.a%2Fb?pageSize=2&continuationToken=a%2Bb")
            .header("Host", "x")
            .header("X-TFS-FedAuthRedirect", "Suppress")
            .body(Full::new(Bytes::from_static(b"abc")))
            .unwrap();
        let r = read_request(request).await.unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.segments, ["Fabrikam", "_apis", "x+y", "aad.a/b"]);
        assert_eq!(r.query("pagesize"), Some("2"));
        assert_eq!(r.query("continuationToken"), Some("a+b"));
        assert_eq!(r.header("x-tfs-fedauthredirect"), Some("Suppress"));
        assert_eq!(r.body, b"abc");
    }

    #[tokio::test]
    async fn a_request_body_over_the_limit_is_refused() {
        let request = hyper::Request::post("/t").body(Full::new(Bytes::from(vec![b'a'; MAX_BODY + 1]))).unwrap();
        assert!(matches!(read_request(request).await, Err(Abort::BadRequestBody)));
    }

    /// Serves `reply` on loopback; drop the sender to shut down.
    async fn server(reply: fn(&Request) -> Reply) -> (SocketAddr, watch::Sender<()>, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, signal) = watch::channel(());
        let task = tokio::spawn(serve(listener, move |r: Request| async move { reply(&r) }, signal));
        (addr, shutdown, task)
    }

    fn body_of(request: &Request) -> Response {
        Response {
            status: 200,
            headers: vec![("X-Path".into(), request.segments.join("/"))],
            body: b"0123456789abcdefghij".to_vec(),
        }
    }

    fn by_path(request: &Request) -> Reply {
        match request.segments.first().map(String::as_str) {
            Some("drop") => Reply::Drop,
            Some("truncate") => Reply::Truncate(body_of(request)),
            Some("slow") => Reply::Slow(body_of(request), Duration::from_secs(3600)),
            _ => Reply::Response(body_of(request)),
        }
    }

    /// Sends a GET; reads the head, then the body up to its `Content-Length` or the end of the
    /// connection. Returns (head, body, the connection ended).
    async fn get(stream: &mut TcpStream, path: &str) -> (String, Vec<u8>, bool) {
        stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: sim\r\n\r\n").as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return (String::from_utf8_lossy(&raw).into_owned(), Vec::new(), true),
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .expect("Content-Length announced");
        let mut body = raw[head_end..].to_vec();
        while body.len() < length {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return (head, body, true),
                Ok(n) => body.extend_from_slice(&buf[..n]),
            }
        }
        (head, body, false)
    }

    #[tokio::test]
    async fn answers_keep_the_connection_open_and_faults_act_on_the_wire() {
        let (addr, _shutdown, _) = server(by_path).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        for path in ["/a/B%20c", "/again"] {
            let (head, body, ended) = get(&mut stream, path).await;
            assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
            assert!(head.contains(&format!("x-path: {}\r\n", path[1..].replace("%20", " ").to_ascii_lowercase())));
            assert_eq!(body, b"0123456789abcdefghij");
            assert!(!ended, "kept alive");
        }

        // Dropped: the connection closes and not a byte of an answer arrives.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let (head, body, ended) = get(&mut stream, "/drop").await;
        assert!(ended && head.is_empty() && body.is_empty(), "{head:?} {body:?}");

        // Truncated: the full length is announced, half the body arrives, then the end.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let (head, body, ended) = get(&mut stream, "/truncate").await;
        assert!(head.contains("content-length: 20\r\n"), "{head}");
        assert_eq!(body, b"0123456789");
        assert!(ended);
    }

    #[tokio::test]
    async fn the_http_client_sees_a_truncated_body_as_an_error() {
        let (addr, _shutdown, _) = server(by_path).await;
        let client = reqwest::Client::new();
        let whole = client.get(format!("http://{addr}/whole")).send().await.unwrap();
        assert_eq!(whole.bytes().await.unwrap().as_ref(), b"0123456789abcdefghij");
        let cut = client.get(format!("http://{addr}/truncate")).send().await.unwrap();
        assert_eq!(cut.content_length(), Some(20));
        assert!(cut.bytes().await.is_err(), "a body shorter than its Content-Length is an error");
        assert!(client.get(format!("http://{addr}/drop")).send().await.is_err(), "no answer at all");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_arrives_in_two_halves_around_the_pause() {
        let (addr, _shutdown, _) = server(by_path).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let start = Instant::now();
        stream.write_all(b"GET /slow HTTP/1.1\r\nHost: sim\r\n\r\n").await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        while !raw.ends_with(b"\r\n\r\n0123456789") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "{}", String::from_utf8_lossy(&raw));
            raw.extend_from_slice(&buf[..n]);
        }
        assert!(start.elapsed() < Duration::from_secs(3600), "the first half comes before the pause");
        let n = stream.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"abcdefghij");
        assert!(start.elapsed() >= Duration::from_secs(3600), "the rest after it (virtual time)");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_finishes_the_answer_in_flight_then_closes_and_stops_accepting() {
        let (addr, shutdown, task) = server(by_path).await;
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let (_, body, _) = get(&mut idle, "/first").await;
        assert_eq!(body.len(), 20);
        let mut busy = TcpStream::connect(addr).await.unwrap();
        busy.write_all(b"GET /slow HTTP/1.1\r\nHost: sim\r\n\r\n").await.unwrap();
        let mut first = [0u8; 4096];
        let n = busy.read(&mut first).await.unwrap();
        assert!(String::from_utf8_lossy(&first[..n]).ends_with("0123456789"));

        drop(shutdown);
        task.await.unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "no longer listening");
        let mut rest = Vec::new();
        busy.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"abcdefghij", "the answer in flight is finished, then the connection closed");
        let mut nothing = Vec::new();
        assert_eq!(idle.read_to_end(&mut nothing).await.unwrap(), 0, "an idle connection is closed");
    }

    /// What `accept` returns when the process is out of file descriptors (EMFILE): an error
    /// that comes back at once on every call.
    fn emfile() -> io::Error {
        io::Error::other("Too many open files")
    }

    #[tokio::test(start_paused = true)]
    async fn accept_errors_back_off_instead_of_spinning() {
        // Always out of file descriptors: in one (virtual) second, a handful of attempts.
        let attempts = AtomicUsize::new(0);
        let (_keep, signal) = watch::channel(());
        let failing = accept_loop(
            || {
                attempts.fetch_add(1, Ordering::Relaxed);
                std::future::ready(Err::<(), _>(emfile()))
            },
            |()| unreachable!("nothing is accepted"),
            signal,
        );
        tokio::select! {
            () = failing => unreachable!("runs until shut down"),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let attempts = attempts.load(Ordering::Relaxed);
        assert!((2..=10).contains(&attempts), "{attempts} attempts");

        // A connection's own failure is skipped at once; a success resets the backoff.
        let script = Arc::new(std::sync::Mutex::new(
            vec![Err(io::ErrorKind::ConnectionAborted.into()), Err(emfile()), Ok(1), Err(emfile()), Ok(2)].into_iter(),
        ));
        let accepted = std::sync::Mutex::new(Vec::new());
        let (shutdown, signal) = watch::channel(());
        let start = Instant::now();
        let scripted = accept_loop(
            || {
                let next = script.lock().unwrap().next();
                async move {
                    match next {
                        Some(result) => result,
                        None => std::future::pending().await,
                    }
                }
            },
            |n: i32| accepted.lock().unwrap().push((n, start.elapsed())),
            signal,
        );
        tokio::pin!(scripted);
        tokio::select! {
            () = scripted.as_mut() => unreachable!("runs until shut down"),
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        let ms = Duration::from_millis;
        assert_eq!(*accepted.lock().unwrap(), [(1, ms(10)), (2, ms(20))], "one 10 ms wait before each");
        drop(shutdown);
        scripted.await;
    }
}
