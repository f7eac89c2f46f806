//! Fetching one layer: downloaded here, written, hashed and unpacked on a thread of its own.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::super::client::{map_error, Endpoint};
use super::super::error::RegistryError;
use super::{mismatch_or_store, short_id, Ctx, PullEvent};
use crate::engine::image::{BlobRef, Reference};

/// One distinct layer to fetch, and the requests that wait for it.
pub(super) struct LayerJob {
    pub(super) blob: BlobRef,
    pub(super) diff_id: String,
    pub(super) endpoint: Arc<Endpoint>,
    pub(super) reference: Reference,
    /// Request indexes (for progress) and their names.
    pub(super) users: Vec<usize>,
    /// Whether the layer is unpacked already (only the blob is missing).
    pub(super) blob_only: bool,
}

/// Reads what the download task sends, on the unpacking thread.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Streams one layer from the registry into the store: the download runs here, the writing,
/// hashing and unpacking on a thread of its own, fed through a bounded channel.
pub(super) async fn fetch_layer(ctx: &Ctx<'_>, job: &LayerJob) -> Result<(), RegistryError> {
    let image = &ctx.requests[job.users[0]].reference;
    let host = job.endpoint.host.clone();
    let layer = short_id(&job.blob.digest);
    let what = format!("layer {}", job.blob.digest);
    tracing::debug!(host = %host, image = %image, %what, "registry request");
    let oci_ref = job.endpoint.reference(&job.reference);
    let mut stream = job
        .endpoint
        .client
        .pull_blob_stream(&oci_ref, job.blob.digest.as_str())
        .await
        .map_err(|e| map_error(image, &host, &what, e))?;
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let store = ctx.store.clone();
    let digest = job.blob.digest.clone();
    let size = job.blob.size;
    let diff_id = job.diff_id.clone();
    let blob_only = job.blob_only;
    let writer = tokio::task::spawn_blocking(move || {
        let reader = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        let what = if blob_only {
            crate::engine::image::Ingest::Blob
        } else {
            crate::engine::image::Ingest::Layer { diff_id: &diff_id }
        };
        store.ingest(reader, &digest, size, what)
    });
    let mut done: u64 = 0;
    let mut reported: u64 = 0;
    let mut stream_error = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                done += bytes.len() as u64;
                if tx.send(bytes).await.is_err() {
                    // The writer stopped (a hostile layer, a full disk): its error says why.
                    break;
                }
                if done - reported >= 256 * 1024 || done == size {
                    reported = done;
                    for &u in &job.users {
                        ctx.emit(
                            u,
                            PullEvent::LayerDownloading {
                                layer: layer.clone(),
                                done,
                                total: size,
                            },
                        );
                    }
                }
            }
            Err(e) => {
                stream_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    for &u in &job.users {
        ctx.emit(
            u,
            PullEvent::LayerVerifying {
                layer: layer.clone(),
            },
        );
    }
    let written = writer.await.map_err(|e| RegistryError::Protocol {
        image: image.clone(),
        registry: host.clone(),
        detail: format!("{what}: the unpacking thread failed: {e}"),
    })?;
    if let Some(e) = stream_error.filter(|_| done < size) {
        // A cut connection: what the writer made of the partial blob does not matter. (With
        // every byte in, the stream's own complaint is about the digest, which the writer
        // reports better.)
        return Err(RegistryError::Unreachable {
            image: image.clone(),
            registry: host,
            detail: format!("{what}: {e}"),
        });
    }
    written.map_err(|e| mismatch_or_store(image, &host, &what, e))?;
    for &u in &job.users {
        ctx.emit(
            u,
            PullEvent::LayerDone {
                layer: layer.clone(),
            },
        );
    }
    Ok(())
}
