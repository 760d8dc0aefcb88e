//! [`ByteStream`]: a blob's bytes as they arrive — from a registry, a file, an archive entry or the store —
//! the library's one stream type. `E` is the error that ends it: the registry client's
//! ([`crate::registry::RegistryError`]) or a transport's ([`crate::transport::TransportError`]). An error item
//! ends the stream (a failed read, or bytes that are not the ones the digest names).

use std::pin::Pin;

/// Bytes as they arrive; an error item ends the stream.
pub type ByteStream<E> = Pin<Box<dyn futures_util::Stream<Item = Result<bytes::Bytes, E>> + Send>>;
