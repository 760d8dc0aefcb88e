//! The registry client against a fake server on 127.0.0.1 (see `fake`), for what a real registry will not
//! do on demand: throttling, failing, cutting bodies short, redirecting, paging, refusing tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

use super::fake::{Req, Resp, Server};
use super::upload::MONOLITHIC_MAX;
use super::*;
use crate::digest::{Digest, VerifyError};
use crate::observe::testing::Recorder;
use crate::stream::ByteStream;

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(60),
    }
}

async fn connect_with(server: &Server, observer: SharedObserver) -> RegistryClient {
    let endpoint = Endpoint::for_test_server(&server.addr);
    let mut c = RegistryClient::connect(&endpoint, None, observer).await.expect("connect to the fake registry");
    assert_eq!(c.base(), server.url(), "HTTPS fails, plain HTTP answers");
    c.set_retry_policy(fast());
    c
}

async fn connect(server: &Server) -> RegistryClient {
    connect_with(server, crate::observe::silent()).await
}

/// A registry that needs no authentication, answering `route` for everything but `/v2/`.
async fn open_registry(route: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Server {
    Server::start("127.0.0.1", move |_| {
        move |r: &Req| if r.path() == "/v2/" { Resp::new(200).json("{}") } else { route(r) }
    })
    .await
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// Deterministic bytes that do not repeat with a short period.
fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8).collect()
}

/// The bytes a stream yields, and the error that ended it.
async fn drain(mut s: ByteStream<RegistryError>) -> (Vec<u8>, Option<RegistryError>) {
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(b) => out.extend_from_slice(&b),
            Err(e) => {
                assert!(s.next().await.is_none(), "nothing follows an error");
                return (out, Some(e));
            }
        }
    }
    (out, None)
}

/// `bytes=N-` → N.
fn range_start(r: &Req) -> Option<usize> {
    r.header("range")?.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok()
}

fn percent_decoded(s: &str) -> String {
    s.replace("%3A", ":").replace("%2C", ",").replace("%2F", "/").replace('+', " ")
}

#[tokio::test]
async fn retry_after_is_waited_for_then_one_retry() {
    let n = counter();
    let s = {
        let n = n.clone();
        open_registry(move |_| {
            if n.fetch_add(1, Ordering::SeqCst) == 0 {
                Resp::new(429).header("Retry-After", "1").json(r#"{"errors":[{"code":"TOOMANYREQUESTS"}]}"#)
            } else {
                Resp::new(200).json(r#"{"name":"r","tags":["a"]}"#)
            }
        })
        .await
    };
    let c = connect(&s).await;
    let t = Instant::now();
    assert_eq!(c.list_tags("r").await.unwrap(), ["a"]);
    assert!(t.elapsed() >= Duration::from_secs(1), "waited {:?}", t.elapsed());
    assert_eq!(s.requests_to("/v2/r/tags/list").len(), 2);
}

#[tokio::test]
async fn a_503_is_tried_again() {
    let n = counter();
    let s = {
        let n = n.clone();
        open_registry(move |_| {
            if n.fetch_add(1, Ordering::SeqCst) == 0 {
                Resp::new(503)
            } else {
                Resp::new(200)
                    .header("Content-Type", "application/vnd.oci.image.manifest.v1+json; charset=utf-8")
                    .body("{}")
            }
        })
        .await
    };
    let c = connect(&s).await;
    let m = c.get_manifest("team/app", "latest", &["application/vnd.oci.image.manifest.v1+json"]).await.unwrap();
    assert_eq!((m.raw.as_slice(), m.media_type.as_str()), (&b"{}"[..], "application/vnd.oci.image.manifest.v1+json"));
    assert_eq!(m.digest, Digest::sha256(b"{}"));
    let gets = s.requests_to("/v2/team/app/manifests/latest");
    assert_eq!(gets.len(), 2);
    assert_eq!(gets[1].header("accept"), Some("application/vnd.oci.image.manifest.v1+json"));
}

#[tokio::test]
async fn four_500s_are_a_retryable_error() {
    let s = open_registry(|_| Resp::new(500).json(r#"{"errors":[{"code":"UNKNOWN","message":"boom"}]}"#)).await;
    let c = connect(&s).await;
    let e = c.get_manifest("r", "latest", &[]).await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(e.is_retryable());
    assert_eq!(e.codes()[0].message, "boom");
    assert_eq!(s.requests_to("/v2/r/manifests/latest").len(), 4);
}

/// Serves `blob` at `/v2/r/blobs/DIGEST`: the first answer is cut after `cut` bytes; later ones honour
/// `Range` unless `ignore_range`.
async fn cutting_registry(blob: Vec<u8>, cut: usize, ignore_range: bool) -> Server {
    let n = counter();
    open_registry(move |r| {
        let total = blob.len();
        if n.fetch_add(1, Ordering::SeqCst) == 0 {
            return Resp::new(200).body(blob[..cut].to_vec()).cut(total);
        }
        match range_start(r) {
            Some(start) if !ignore_range => Resp::new(206)
                .header("Content-Range", format!("bytes {start}-{}/{total}", total - 1))
                .body(blob[start..].to_vec()),
            _ => Resp::new(200).body(blob.clone()),
        }
    })
    .await
}

#[tokio::test]
async fn a_cut_blob_is_resumed_with_range_and_verified() {
    let blob = data(100_000);
    let digest = Digest::sha256(&blob);
    let s = cutting_registry(blob.clone(), 30_000, false).await;
    let c = connect(&s).await;
    let (got, err) = drain(c.get_blob("r", &digest, None).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert!(got == blob, "the bytes yielded are the blob's");
    let reqs = s.requests_to(&format!("/v2/r/blobs/{digest}"));
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("range"), None);
    assert_eq!(reqs[1].header("range"), Some("bytes=30000-"));
}

#[tokio::test]
async fn a_resumed_read_answered_from_the_start_skips_what_was_read() {
    let blob = data(70_000);
    let digest = Digest::sha256(&blob);
    let s = cutting_registry(blob.clone(), 25_000, true).await;
    let c = connect(&s).await;
    let (got, err) = drain(c.get_blob("r", &digest, Some(blob.len() as u64)).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert!(got == blob);
    assert_eq!(s.requests_to(&format!("/v2/r/blobs/{digest}")).len(), 2);
}

#[tokio::test]
async fn a_blob_read_gives_up_after_three_resumes() {
    let blob = data(50_000);
    let digest = Digest::sha256(&blob);
    let s = open_registry(move |_| Resp::new(200).body(blob[..10].to_vec()).cut(50_000)).await;
    let c = connect(&s).await;
    let (got, err) = drain(c.get_blob("r", &digest, Some(50_000)).await.unwrap()).await;
    assert!(matches!(err, Some(RegistryError::Transport { .. })), "{err:?}");
    assert!(got.len() <= 10);
    assert_eq!(s.requests_to(&format!("/v2/r/blobs/{digest}")).len(), 1 + blob::MAX_RESUMES as usize);
}

#[tokio::test]
async fn a_blob_that_is_not_its_digest_ends_with_an_error() {
    let blob = data(200_000);
    let wrong = Digest::sha256(b"something else");
    let s = open_registry(move |_| Resp::new(200).body(blob.clone())).await;
    let c = connect(&s).await;
    let (got, err) = drain(c.get_blob("r", &wrong, None).await.unwrap()).await;
    let Some(RegistryError::Verify { source: VerifyError::Digest { expected, .. }, .. }) = err else {
        panic!("{err:?}")
    };
    assert_eq!(expected, wrong);
    assert!(got.len() < 200_000, "the last piece is held back");

    // The right digest but another size than the one named: also refused.
    let blob = data(1000);
    let digest = Digest::sha256(&blob);
    let s = open_registry(move |_| Resp::new(200).body(blob.clone())).await;
    let c = connect(&s).await;
    let (got, err) = drain(c.get_blob("r", &digest, Some(999)).await.unwrap()).await;
    assert!(matches!(err, Some(RegistryError::Verify { source: VerifyError::Size { .. }, .. })), "{err:?}");
    assert!(got.is_empty());
}

#[tokio::test]
async fn a_manifest_head_without_a_digest_falls_back_to_get() {
    let body = br#"{"schemaVersion":2}"#.to_vec();
    let len = body.len();
    let s = open_registry(move |r| match (r.method.as_str(), r.path()) {
        ("HEAD", "/v2/r/manifests/latest") => Resp::new(200)
            .header("Content-Type", "application/vnd.oci.image.index.v1+json")
            .header("Content-Length", len.to_string()),
        ("GET", "/v2/r/manifests/latest") => {
            Resp::new(200).header("Content-Type", "application/vnd.oci.image.index.v1+json").body(body.clone())
        }
        _ => Resp::new(404).json(r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#),
    })
    .await;
    let c = connect(&s).await;
    let head = c.head_manifest("r", "latest", &[]).await.unwrap().unwrap();
    assert_eq!(
        head,
        ManifestHead {
            digest: Digest::sha256(br#"{"schemaVersion":2}"#),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            size: len as u64
        }
    );
    let methods: Vec<_> = s.requests_to("/v2/r/manifests/latest").into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["HEAD", "GET"]);
    assert_eq!(c.head_manifest("r", "gone", &[]).await.unwrap(), None);
}

#[tokio::test]
async fn a_manifest_head_with_a_digest_is_enough() {
    let d = Digest::sha256(b"m");
    let said = d.to_string();
    let s = open_registry(move |_| {
        Resp::new(200)
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .header("Docker-Content-Digest", said.clone())
            .header("Content-Length", "1")
    })
    .await;
    let c = connect(&s).await;
    let head = c.head_manifest("r", "v1", &[]).await.unwrap().unwrap();
    assert_eq!((head.digest, head.size), (d, 1));
    assert_eq!(s.requests_to("/v2/r/manifests/v1").len(), 1);
}

#[tokio::test]
async fn manifest_digests_are_the_bytes_digests() {
    let other = Digest::sha256(b"not this");
    let said = other.to_string();
    let s =
        open_registry(move |_| Resp::new(200).header("Docker-Content-Digest", said.clone()).json("{\"a\":1}")).await;
    let c = connect(&s).await;
    // By digest: the bytes must hash to it.
    let asked = Digest::sha256(b"what was asked for");
    let e = c.get_manifest("r", &asked.to_string(), &[]).await.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, RegistryError::Verify { .. }), "{e:?}");
    assert!(msg.contains(&asked.to_string()) && msg.contains(&Digest::sha256(b"{\"a\":1}").to_string()), "{msg}");
    // By tag: the bytes' digest, whatever the header says.
    let m = c.get_manifest("r", "latest", &[]).await.unwrap();
    assert_eq!(m.digest, Digest::sha256(b"{\"a\":1}"));
    assert_eq!(m.media_type, "application/json");
}

#[tokio::test]
async fn oversized_manifests_are_refused() {
    let s = open_registry(|_| Resp::new(200).body(vec![b' '; body::MAX_MANIFEST_BODY + 1])).await;
    let c = connect(&s).await;
    let e = c.get_manifest("r", "latest", &[]).await.unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
}

#[tokio::test]
async fn mounts() {
    let s = open_registry(|r| match (r.method.as_str(), r.path(), r.query()) {
        ("POST", "/v2/new/blobs/uploads/", q) if q.contains("from=there") => {
            Resp::new(202).header("Location", "/v2/new/blobs/uploads/session-1?_state=x")
        }
        ("POST", "/v2/new/blobs/uploads/", q) if q.contains("from=here") => Resp::new(201),
        ("DELETE", _, _) => Resp::new(204),
        _ => Resp::new(404).json(r#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#),
    })
    .await;
    let c = connect(&s).await;
    let d = Digest::sha256(b"layer");
    assert!(!c.mount_blob("new", &d, "there").await.unwrap(), "202: not mounted");
    let cancelled = s.requests_to("/v2/new/blobs/uploads/session-1");
    assert_eq!((cancelled.len(), cancelled[0].method.as_str(), cancelled[0].query()), (1, "DELETE", "_state=x"));
    assert!(c.mount_blob("new", &d, "here").await.unwrap(), "201: mounted");
    let posts = s.requests().into_iter().filter(|r| r.method == "POST").collect::<Vec<_>>();
    assert_eq!(posts[1].query(), format!("mount={d}&from=here"));
    assert!(!c.mount_blob("other", &d, "here").await.unwrap(), "an error answer: upload instead");
}

#[tokio::test]
async fn redirected_blob_reads_carry_no_authorization() {
    let blob = data(5000);
    let digest = Digest::sha256(&blob);
    let storage = {
        let blob = blob.clone();
        Server::start("127.0.0.2", move |_| move |_: &Req| Resp::new(200).body(blob.clone())).await
    };
    let storage_url = storage.url();
    let registry = Server::start("127.0.0.1", move |base| {
        move |r: &Req| match r.path() {
            "/token" => Resp::new(200).json(r#"{"token":"T","expires_in":300}"#),
            _ if r.header("authorization") != Some("Bearer T") => Resp::new(401)
                .header("WWW-Authenticate", format!(r#"Bearer realm="{base}/token",service="fake""#))
                .json(r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#),
            "/v2/" => Resp::new(200).json("{}"),
            _ => Resp::new(307).header("Location", format!("{storage_url}/bucket/blob?X-Signature=s")),
        }
    })
    .await;
    let c = connect(&registry).await;
    let (got, err) = drain(c.get_blob("r", &digest, Some(5000)).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert!(got == blob);
    let at_registry = registry.requests_to(&format!("/v2/r/blobs/{digest}"));
    assert_eq!(at_registry[0].header("authorization"), Some("Bearer T"));
    let at_storage = storage.requests();
    assert_eq!(at_storage.len(), 1);
    assert_eq!(at_storage[0].target, "/bucket/blob?X-Signature=s");
    assert_eq!(at_storage[0].header("authorization"), None, "no credentials for another host");
}

#[tokio::test]
async fn tag_lists_follow_link_pages() {
    let s = open_registry(|r| match r.query() {
        "" => Resp::new(200)
            .header("Link", r#"</v2/r/tags/list?last=b&n=2>; rel="next""#)
            .json(r#"{"name":"r","tags":["a","b"]}"#),
        "last=b&n=2" => Resp::new(200)
            .header("Link", r#"</v2/r/tags/list?last=b%2B&n=2>; rel="next""#)
            .json(r#"{"name":"r","tags":null}"#),
        "last=b%2B&n=2" => Resp::new(200).json(r#"{"name":"r","tags":["c"]}"#),
        _ => Resp::new(400),
    })
    .await;
    let c = connect(&s).await;
    assert_eq!(c.list_tags("r").await.unwrap(), ["a", "b", "c"]);
    let targets: Vec<_> = s.requests_to("/v2/r/tags/list").into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/v2/r/tags/list", "/v2/r/tags/list?last=b&n=2", "/v2/r/tags/list?last=b%2B&n=2"]);
}

#[tokio::test]
async fn insufficient_scope_gets_one_new_token() {
    let s = Server::start("127.0.0.1", |base| {
        move |r: &Req| {
            let challenge = format!(r#"Bearer realm="{base}/token",service="fake""#);
            match r.path() {
                "/v2/" => Resp::new(401).header("WWW-Authenticate", challenge),
                "/token" if percent_decoded(r.query()).contains("repository:other:pull") => {
                    Resp::new(200).json(r#"{"token":"T2","expires_in":300}"#)
                }
                "/token" => Resp::new(200).json(r#"{"token":"T1","expires_in":300}"#),
                _ if r.header("authorization") == Some("Bearer T2") => Resp::new(200).json(r#"{"tags":["x"]}"#),
                _ => Resp::new(401)
                    .header(
                        "WWW-Authenticate",
                        format!(
                            r#"{challenge},scope="repository:other:pull repository:r:pull",error="insufficient_scope""#
                        ),
                    )
                    .json(r#"{"errors":[{"code":"DENIED"}]}"#),
            }
        }
    })
    .await;
    let c = connect(&s).await;
    assert_eq!(c.list_tags("r").await.unwrap(), ["x"]);
    let tokens = s.requests_to("/token");
    assert_eq!(tokens.len(), 2, "one token, then one more after insufficient_scope");
    assert_eq!(percent_decoded(tokens[0].query()), "service=fake&scope=repository:r:pull");
    assert_eq!(percent_decoded(tokens[1].query()), "service=fake&scope=repository:other:pull&scope=repository:r:pull");
    // The wider token is kept for the operation's scopes: the next call goes straight through.
    assert_eq!(c.list_tags("r").await.unwrap(), ["x"]);
    assert_eq!(s.requests_to("/token").len(), 2);
    assert_eq!(s.requests_to("/v2/r/tags/list").len(), 3);
}

#[tokio::test]
async fn a_refused_token_is_not_asked_for_forever() {
    let s = Server::start("127.0.0.1", |base| {
        move |r: &Req| match r.path() {
            "/token" => Resp::new(200).json(r#"{"token":"T"}"#),
            _ => Resp::new(401).header(
                "WWW-Authenticate",
                format!(
                    r#"Bearer realm="{base}/token",service="fake",scope="repository:r:pull",error="insufficient_scope""#
                ),
            ),
        }
    })
    .await;
    let c = connect(&s).await;
    let e = c.delete_manifest("r", &Digest::sha256(b"x")).await.unwrap_err();
    assert!(matches!(e, RegistryError::Unauthorized { status: 401, .. }), "{e:?}");
    let tokens = s.requests_to("/token");
    assert_eq!(tokens.len(), 2);
    assert!(percent_decoded(tokens[0].query()).ends_with("scope=repository:r:delete"), "{}", tokens[0].query());
}

#[tokio::test]
async fn warnings_are_shown_once() {
    let s = open_registry(|_| {
        Resp::new(200)
            .header("Warning", r#"299 - "this registry is going away""#)
            .header("Warning", r#"199 - "not for people""#)
            .json(r#"{"tags":[]}"#)
    })
    .await;
    let rec = Arc::new(Recorder::default());
    let c = connect_with(&s, rec.clone()).await;
    c.list_tags("r").await.unwrap();
    c.list_tags("r").await.unwrap();
    assert_eq!(*rec.warnings.lock().unwrap(), [format!("registry {}: this registry is going away", s.addr)]);
}

/// An opener for `blob`, counting how often it is called.
fn opener(
    blob: Vec<u8>,
    opens: Arc<AtomicUsize>,
) -> impl Fn() -> futures_util::future::BoxFuture<'static, Result<ByteStream<RegistryError>, RegistryError>> + Send + Sync
{
    let blob = Bytes::from(blob);
    move || {
        opens.fetch_add(1, Ordering::SeqCst);
        let blob = blob.clone();
        async move {
            let pieces =
                (0..blob.len()).step_by(64 * 1024).map(move |i| Ok(blob.slice(i..(i + 64 * 1024).min(blob.len()))));
            Ok(Box::pin(futures_util::stream::iter(pieces.collect::<Vec<_>>())) as ByteStream<RegistryError>)
        }
        .boxed()
    }
}

#[tokio::test]
async fn a_large_upload_is_one_streamed_patch_then_put() {
    let blob = data(MONOLITHIC_MAX as usize + 300_000);
    let digest = Digest::sha256(&blob);
    let s = open_registry(|r| match (r.method.as_str(), r.path()) {
        ("POST", "/v2/r/blobs/uploads/") => Resp::new(202).header("Location", "/v2/r/blobs/uploads/u1?_state=a"),
        ("PATCH", "/v2/r/blobs/uploads/u1") => Resp::new(202).header("Location", "/v2/r/blobs/uploads/u1?_state=b"),
        ("PUT", "/v2/r/blobs/uploads/u1") => Resp::new(201),
        _ => Resp::new(400),
    })
    .await;
    let c = connect(&s).await;
    let opens = counter();
    c.upload_blob("r", &digest, blob.len() as u64, &opener(blob.clone(), opens.clone())).await.unwrap();
    let reqs = s.requests_to("/v2/r/blobs/uploads/u1");
    assert_eq!(reqs.len(), 2);
    assert_eq!((reqs[0].method.as_str(), reqs[0].query()), ("PATCH", "_state=a"));
    assert_eq!(reqs[0].header("content-type"), Some("application/octet-stream"));
    assert!(reqs[0].body == blob);
    assert_eq!((reqs[1].method.as_str(), reqs[1].query()), ("PUT", format!("_state=b&digest={digest}").as_str()));
    assert!(reqs[1].body.is_empty());
    assert_eq!(opens.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_small_upload_is_one_put_and_a_failed_one_starts_again() {
    let blob = data(300_000);
    let digest = Digest::sha256(&blob);
    let posts = counter();
    let s = {
        let posts = posts.clone();
        open_registry(move |r| match (r.method.as_str(), r.path()) {
            ("POST", "/v2/r/blobs/uploads/") => {
                let k = posts.fetch_add(1, Ordering::SeqCst);
                Resp::new(202).header("Location", format!("/v2/r/blobs/uploads/m{k}?_state=a"))
            }
            ("PUT", "/v2/r/blobs/uploads/m0") => Resp::new(503),
            ("PUT", "/v2/r/blobs/uploads/m1") if r.body.len() == 300_000 => Resp::new(201),
            ("DELETE", _) => Resp::new(204),
            _ => Resp::new(400),
        })
        .await
    };
    let c = connect(&s).await;
    let opens = counter();
    c.upload_blob("r", &digest, blob.len() as u64, &opener(blob.clone(), opens.clone())).await.unwrap();
    assert!(s.requests().iter().all(|r| r.method != "PATCH"), "no PATCH for a small blob");
    let first: Vec<_> = s.requests_to("/v2/r/blobs/uploads/m0").into_iter().map(|r| r.method).collect();
    assert_eq!(first, ["PUT", "DELETE"], "the failed session is cancelled");
    let put = s.requests_to("/v2/r/blobs/uploads/m1").remove(0);
    assert_eq!((put.method.as_str(), put.query()), ("PUT", format!("_state=a&digest={digest}").as_str()));
    assert_eq!(put.header("content-type"), Some("application/octet-stream"));
    assert!(put.body == blob);
    assert_eq!((posts.load(Ordering::SeqCst), opens.load(Ordering::SeqCst)), (2, 2));
}

#[tokio::test]
async fn a_refused_patch_falls_back_to_one_put() {
    let blob = data(MONOLITHIC_MAX as usize + 10_000);
    let digest = Digest::sha256(&blob);
    let s = open_registry(|r| match r.method.as_str() {
        "POST" => Resp::new(202).header("Location", "/v2/r/blobs/uploads/u2"),
        "PATCH" => Resp::new(405),
        "PUT" if !r.body.is_empty() => Resp::new(201),
        _ => Resp::new(400),
    })
    .await;
    let c = connect(&s).await;
    let opens = counter();
    c.upload_blob("r", &digest, blob.len() as u64, &opener(blob.clone(), opens.clone())).await.unwrap();
    let puts: Vec<_> = s.requests().into_iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].target, format!("/v2/r/blobs/uploads/u2?digest={digest}"));
    assert!(puts[0].body == blob);
    assert_eq!(opens.load(Ordering::SeqCst), 2, "the body is opened again for the PUT");
}

#[tokio::test]
async fn chunks_respect_the_registry_minimum() {
    let blob = data(2 * 1024 * 1024 + 512 * 1024);
    let digest = Digest::sha256(&blob);
    let n = counter();
    let s = Server::start("127.0.0.1", move |base| {
        move |r: &Req| match (r.method.as_str(), r.path()) {
            ("GET", "/v2/") => Resp::new(200),
            ("POST", _) => Resp::new(202)
                .header("Location", format!("{base}/v2/r/blobs/uploads/u3"))
                .header("OCI-Chunk-Min-Length", "1048576"),
            ("PATCH", _) => Resp::new(202)
                .header("Location", format!("{base}/v2/r/blobs/uploads/u3?n={}", n.fetch_add(1, Ordering::SeqCst))),
            ("PUT", _) => Resp::new(201),
            _ => Resp::new(400),
        }
    })
    .await;
    let c = connect(&s).await;
    c.upload_blob("r", &digest, blob.len() as u64, &opener(blob.clone(), counter())).await.unwrap();
    let patches: Vec<_> = s.requests().into_iter().filter(|r| r.method == "PATCH").collect();
    let ranges: Vec<_> = patches.iter().map(|r| r.header("content-range").unwrap_or("").to_owned()).collect();
    assert_eq!(ranges, ["0-1048575", "1048576-2097151", "2097152-2621439"]);
    assert_eq!(patches.iter().map(|p| p.query()).collect::<Vec<_>>(), ["", "n=0", "n=1"]);
    assert!(patches.iter().flat_map(|p| p.body.iter().copied()).eq(blob.iter().copied()));
    let put = s.requests().into_iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(put.query(), format!("n=2&digest={digest}"));
}

#[tokio::test]
async fn a_failed_patch_starts_a_new_upload() {
    let blob = data(MONOLITHIC_MAX as usize + 1000);
    let digest = Digest::sha256(&blob);
    let posts = counter();
    let s = {
        let posts = posts.clone();
        open_registry(move |r| match (r.method.as_str(), r.path()) {
            ("POST", _) => {
                let k = posts.fetch_add(1, Ordering::SeqCst);
                Resp::new(202).header("Location", format!("/v2/r/blobs/uploads/s{k}"))
            }
            ("PATCH", "/v2/r/blobs/uploads/s0") => Resp::new(503),
            ("PATCH", _) => Resp::new(202).header("Location", r.path().to_owned()),
            ("PUT", "/v2/r/blobs/uploads/s1") => Resp::new(201),
            ("DELETE", _) => Resp::new(204),
            _ => Resp::new(400),
        })
        .await
    };
    let c = connect(&s).await;
    let opens = counter();
    c.upload_blob("r", &digest, blob.len() as u64, &opener(blob, opens.clone())).await.unwrap();
    assert_eq!(posts.load(Ordering::SeqCst), 2);
    assert_eq!(opens.load(Ordering::SeqCst), 2);
    let first: Vec<_> = s.requests_to("/v2/r/blobs/uploads/s0").into_iter().map(|r| r.method).collect();
    assert_eq!(first, ["PATCH", "DELETE"], "the broken session is cancelled");
}

#[tokio::test]
async fn manifests_are_put_and_sizes_probed() {
    let stored = Digest::sha256(b"what the registry computed");
    let said = stored.to_string();
    let s = open_registry(move |r| match (r.method.as_str(), r.path()) {
        ("PUT", "/v2/r/manifests/v1")
            if r.header("content-type") == Some("application/vnd.oci.image.manifest.v1+json") =>
        {
            Resp::new(201).header("Docker-Content-Digest", said.clone())
        }
        ("HEAD", p) if p.ends_with(&Digest::sha256(b"present").to_string()) => {
            Resp::new(200).header("Content-Length", "7")
        }
        _ => Resp::new(404),
    })
    .await;
    let rec = Arc::new(Recorder::default());
    let c = connect_with(&s, rec.clone()).await;
    let d = c.put_manifest("r", "v1", b"{}", "application/vnd.oci.image.manifest.v1+json").await.unwrap();
    assert_eq!(d, Digest::sha256(b"{}"));
    assert_eq!(s.requests_to("/v2/r/manifests/v1")[0].body, b"{}");
    assert!(rec.warnings.lock().unwrap()[0].contains(&stored.to_string()));
    assert_eq!(c.blob_size("r", &Digest::sha256(b"present")).await.unwrap(), Some(7));
    assert_eq!(c.blob_size("r", &Digest::sha256(b"absent")).await.unwrap(), None);
}

/// The operations' futures can be spawned on a multi-threaded runtime (never called).
#[allow(dead_code, clippy::let_underscore_future)]
fn futures_are_send(c: &RegistryClient, d: &Digest, open: &OpenBody<'_>) {
    fn send<T: Send>(_: T) {}
    send(c.get_manifest("r", "t", &[]));
    send(c.head_manifest("r", "t", &[]));
    send(c.put_manifest("r", "t", b"{}", "application/json"));
    send(c.delete_manifest("r", d));
    send(c.blob_size("r", d));
    send(c.get_blob("r", d, None));
    send(c.delete_blob("r", d));
    send(c.mount_blob("r", d, "s"));
    send(c.upload_blob("r", d, 0, open));
    send(c.list_tags("r"));
    send(c.check_auth());
}

#[tokio::test]
async fn a_failing_token_service_is_tried_again() {
    let n = counter();
    let s = Server::start("127.0.0.1", move |base| {
        move |r: &Req| match r.path() {
            "/token" if n.fetch_add(1, Ordering::SeqCst) == 0 => Resp::new(503),
            "/token" => Resp::new(200).json(r#"{"token":"T"}"#),
            _ if r.header("authorization") == Some("Bearer T") => Resp::new(200).json(r#"{"tags":["t"]}"#),
            _ => Resp::new(401).header("WWW-Authenticate", format!(r#"Bearer realm="{base}/token",service="fake""#)),
        }
    })
    .await;
    let c = connect(&s).await;
    assert_eq!(c.list_tags("r").await.unwrap(), ["t"]);
    assert_eq!(s.requests_to("/token").len(), 2);
    assert_eq!(s.requests_to("/v2/r/tags/list").len(), 1);
}

// ---- the origin rule (origin.rs) against real requests -------------------------------------------------

const BASIC_USER_PASS: &str = "Basic dXNlcjpwYXNz"; // user:pass

async fn connect_as(server: &Server, observer: SharedObserver) -> RegistryClient {
    let endpoint = Endpoint::for_test_server(&server.addr);
    let creds = Credentials {
        server_url: server.addr.to_string(),
        username: "user".into(),
        secret: hoist_helper_protocol::Secret::new("pass".to_owned()),
    };
    let mut c = RegistryClient::connect(&endpoint, Some(creds), observer).await.expect("connect");
    c.set_retry_policy(fast());
    c
}

/// A registry that wants `user:pass` (Basic) or, with `bearer`, a token `T` its `/token` gives for them;
/// anything else authorized goes to `route`.
async fn guarded_registry(bearer: bool, route: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Server {
    Server::start("127.0.0.1", move |base| {
        move |r: &Req| {
            let auth = r.header("authorization");
            if bearer && r.path() == "/token" {
                return match auth {
                    Some(BASIC_USER_PASS) => Resp::new(200).json(r#"{"token":"T","expires_in":300}"#),
                    _ => Resp::new(401),
                };
            }
            let ok = if bearer { auth == Some("Bearer T") } else { auth == Some(BASIC_USER_PASS) };
            if !ok {
                let challenge = if bearer {
                    format!(r#"Bearer realm="{base}/token",service="fake""#)
                } else {
                    r#"Basic realm="fake""#.to_owned()
                };
                return Resp::new(401)
                    .header("WWW-Authenticate", challenge)
                    .json(r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#);
            }
            if r.path() == "/v2/" { Resp::new(200).json("{}") } else { route(r) }
        }
    })
    .await
}

/// A server that takes anything: uploads (201), tag lists (`["b"]`), blobs; it records what it got.
async fn elsewhere(ip: &str) -> Server {
    Server::start(ip, |_| {
        |r: &Req| match r.method.as_str() {
            "PUT" => Resp::new(201),
            _ if r.path().ends_with("/tags/list") => Resp::new(200).json(r#"{"tags":["b"]}"#),
            _ => Resp::new(200).body(b"blob".to_vec()),
        }
    })
    .await
}

#[tokio::test]
async fn an_upload_location_on_another_origin_gets_no_credentials() {
    let blob = data(1000);
    let digest = Digest::sha256(&blob);
    for bearer in [false, true] {
        // Another host (127.0.0.2), and the registry's own host on another port.
        for ip in ["127.0.0.2", "127.0.0.1"] {
            let other = elsewhere(ip).await;
            let target = format!("{}/storage/upload-1?sig=s", other.url());
            let s = guarded_registry(bearer, move |r| match r.method.as_str() {
                "POST" => Resp::new(202).header("Location", target.clone()),
                _ => Resp::new(400),
            })
            .await;
            let c = connect_as(&s, crate::observe::silent()).await;
            c.upload_blob("r", &digest, blob.len() as u64, &opener(blob.clone(), counter())).await.unwrap();
            let posts: Vec<_> = s.requests().into_iter().filter(|r| r.method == "POST").collect();
            assert_eq!(posts.len(), 1);
            assert!(posts[0].header("authorization").is_some(), "the registry itself gets the credentials");
            let got = other.requests();
            assert_eq!(got.len(), 1, "{bearer} {ip}: {got:?}");
            assert_eq!((got[0].method.as_str(), got[0].path()), ("PUT", "/storage/upload-1"));
            assert!(got[0].body == blob, "the upload still works, without credentials");
            assert_eq!(got[0].header("authorization"), None, "bearer {bearer}, {ip}: no credentials elsewhere");
        }
    }
}

#[tokio::test]
async fn an_upload_location_on_the_registry_keeps_its_credentials() {
    let blob = data(1000);
    let digest = Digest::sha256(&blob);
    // The registry's own origin written out in full, with its port: the same origin.
    let s = guarded_registry(false, |r| match r.method.as_str() {
        "POST" => {
            Resp::new(202).header("Location", format!("http://{}/v2/r/blobs/uploads/u", r.header("host").unwrap()))
        }
        "PUT" => Resp::new(201),
        _ => Resp::new(400),
    })
    .await;
    let c = connect_as(&s, crate::observe::silent()).await;
    c.upload_blob("r", &digest, blob.len() as u64, &opener(blob, counter())).await.unwrap();
    let put = s.requests().into_iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(put.header("authorization"), Some(BASIC_USER_PASS));
}

#[tokio::test]
async fn a_tag_list_link_to_another_origin_gets_no_credentials() {
    for bearer in [false, true] {
        for ip in ["127.0.0.2", "127.0.0.1"] {
            let other = elsewhere(ip).await;
            let next = format!("{}/v2/r/tags/list?last=a", other.url());
            let s = guarded_registry(bearer, move |_| {
                Resp::new(200).header("Link", format!("<{next}>; rel=\"next\"")).json(r#"{"tags":["a"]}"#)
            })
            .await;
            let c = connect_as(&s, crate::observe::silent()).await;
            assert_eq!(c.list_tags("r").await.unwrap(), ["a", "b"]);
            let got = other.requests();
            assert_eq!(got.len(), 1, "{got:?}");
            assert_eq!(got[0].target, "/v2/r/tags/list?last=a");
            assert_eq!(got[0].header("authorization"), None, "bearer {bearer}, {ip}: no credentials elsewhere");
        }
    }
}

#[tokio::test]
async fn redirects_to_another_port_carry_no_credentials() {
    let storage = elsewhere("127.0.0.1").await;
    let to = format!("{}/bucket/blob", storage.url());
    let s = guarded_registry(false, move |_| Resp::new(307).header("Location", to.clone())).await;
    let c = connect_as(&s, crate::observe::silent()).await;
    let (got, err) = drain(c.get_blob("r", &Digest::sha256(b"blob"), Some(4)).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, b"blob");
    assert_eq!(storage.requests().len(), 1);
    assert_eq!(storage.requests()[0].header("authorization"), None, "reqwest drops Authorization across ports");
}

#[tokio::test]
async fn a_tag_list_that_links_back_fails_at_once() {
    // A page that links to itself.
    let s = open_registry(|_| {
        Resp::new(200).header("Link", r#"</v2/r/tags/list?n=1>; rel="next""#).json(r#"{"tags":["a"]}"#)
    })
    .await;
    let c = connect(&s).await;
    let e = c.list_tags_paged("r", Some(1)).await.unwrap_err();
    assert!(e.to_string().contains("links back to a page already read"), "{e}");
    assert_eq!(s.requests_to("/v2/r/tags/list").len(), 1);
    // Two pages that link to each other (the second written another way: absolute).
    let s = Server::start("127.0.0.1", |base| {
        move |r: &Req| match (r.path(), r.query()) {
            ("/v2/", _) => Resp::new(200),
            (_, "") => {
                Resp::new(200).header("Link", r#"</v2/r/tags/list?last=a>; rel="next""#).json(r#"{"tags":["a"]}"#)
            }
            _ => Resp::new(200)
                .header("Link", format!(r#"<{base}/v2/r/tags/list>; rel="next""#))
                .json(r#"{"tags":["b"]}"#),
        }
    })
    .await;
    let c = connect(&s).await;
    let e = c.list_tags("r").await.unwrap_err();
    assert!(e.to_string().contains("links back"), "{e}");
    assert_eq!(s.requests_to("/v2/r/tags/list").len(), 2);
}

#[tokio::test]
async fn a_long_retry_after_is_announced_and_capped() {
    let n = counter();
    let s = {
        let n = n.clone();
        open_registry(move |_| match n.fetch_add(1, Ordering::SeqCst) {
            0 => Resp::new(429).header("Retry-After", "1"),
            1 => Resp::new(429).header("Retry-After", "999999"),
            _ => Resp::new(200).json(r#"{"tags":["a"]}"#),
        })
        .await
    };
    let rec = Arc::new(Recorder::default());
    let mut c = connect_with(&s, rec.clone()).await;
    c.set_retry_policy(RetryPolicy { max_retry_after: Duration::from_secs(3), ..fast() });
    let t = Instant::now();
    assert_eq!(c.list_tags("r").await.unwrap(), ["a"]);
    assert!(t.elapsed() >= Duration::from_secs(4) && t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let warnings = rec.warnings.lock().unwrap().clone();
    assert_eq!(warnings.len(), 1, "a wait of a second is not announced: {warnings:?}");
    assert!(
        warnings[0].contains("answered 429")
            && warnings[0].contains("waiting 3 s before trying again")
            && warnings[0].contains("it asked for 999999 s"),
        "{}",
        warnings[0]
    );
}

#[tokio::test]
async fn a_login_over_plain_http_warns_that_the_password_is_in_clear() {
    for bearer in [false, true] {
        let s = guarded_registry(bearer, |_| Resp::new(404)).await;
        let rec = Arc::new(Recorder::default());
        let c = connect_as(&s, rec.clone()).await;
        c.check_auth().await.unwrap();
        let warnings = rec.warnings.lock().unwrap().clone();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("clear text") && warnings[0].contains(&s.addr.to_string()), "{warnings:?}");
        assert!(!warnings[0].contains("pass\"") && !warnings[0].contains("dXNlcjpwYXNz"));
    }
    // A registry that asks for nothing: no credentials are sent, nothing to warn about.
    let s = open_registry(|_| Resp::new(404)).await;
    let rec = Arc::new(Recorder::default());
    connect_as(&s, rec.clone()).await.check_auth().await.unwrap();
    assert!(rec.warnings.lock().unwrap().is_empty());
}

/// A registry without TLS that registries.conf does not mark insecure: the HTTPS attempt is answered in plain
/// HTTP, and the error says so and how to allow it (not rustls's "corrupt message of type
/// InvalidContentType"); it is not tried again.
#[tokio::test]
async fn an_https_request_answered_in_plain_http_says_so_and_how_to_allow_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answered = counter();
    let count = answered.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
        }
    });
    let endpoint = Endpoint {
        host: addr.to_string(),
        tls_verify: true,
        allow_http: false,
        cert_dirs: Vec::new(),
        insecure_hosts: Vec::new(),
        timeout: Some(Duration::from_secs(10)),
    };
    let e = RegistryClient::connect(&endpoint, None, crate::observe::silent()).await.err().expect("refused");
    assert!(matches!(e, RegistryError::PlainHttp { .. }), "{e:?}");
    assert!(!e.is_retryable());
    let text = e.to_string();
    assert!(text.starts_with(&format!("pinging container registry https://{addr}/v2/: ")), "{text}");
    assert!(text.contains("plain HTTP") && text.contains("insecure = true") && text.contains("--tls-verify=false"));
    assert!(!text.contains("InvalidContentType"), "{text}");
    assert_eq!(answered.load(Ordering::SeqCst), 1, "asked once");
}
