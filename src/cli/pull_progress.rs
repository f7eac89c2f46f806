//! How image pulls are shown, in the progress modes of [`super::progress`]: on a terminal
//! Docker's look (a `[+] Pulling N/M` header, a line per image, a line per layer with a bar),
//! otherwise plain lines (downloads rate-limited) or one JSON object per event; `--quiet`
//! shows nothing (no renderer at all).
//!
//! Events arrive from the puller's threads, so every renderer locks its own state.
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::engine::fsutil::human_size;
use crate::engine::registry::{PullEvent, PullProgress};

/// Width of Docker's download bar, between the brackets.
const BAR_WIDTH: usize = 50;
/// A plain `Downloading` line at most this often per layer, unless a tenth more arrived.
const PLAIN_INTERVAL: Duration = Duration::from_secs(1);

/// A layer as Docker names it: the first 12 hex digits of its digest.
pub fn short_layer(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// Docker's bar: `[=====>      ]`, `done` of `total`.
pub fn bar(done: u64, total: u64) -> String {
    let filled = if total == 0 {
        0
    } else {
        ((done.min(total) as u128 * BAR_WIDTH as u128) / total as u128) as usize
    };
    let mut s = String::with_capacity(BAR_WIDTH + 2);
    s.push('[');
    if filled >= BAR_WIDTH {
        s.push_str(&"=".repeat(BAR_WIDTH));
    } else {
        s.push_str(&"=".repeat(filled));
        s.push('>');
        s.push_str(&" ".repeat(BAR_WIDTH - filled - 1));
    }
    s.push(']');
    s
}

/// What a layer line says after `event`, as Docker says it; `None` for image-level events.
pub fn layer_status(event: &PullEvent) -> Option<(String, String)> {
    let (layer, text) = match event {
        PullEvent::LayerWaiting { layer, .. } => (layer, "Waiting".to_string()),
        PullEvent::LayerExists { layer } => (layer, "Already exists".to_string()),
        PullEvent::LayerDownloading { layer, done, total } => (
            layer,
            format!(
                "Downloading {} {}/{}",
                bar(*done, *total),
                human_size(*done),
                human_size(*total)
            ),
        ),
        PullEvent::LayerVerifying { layer } => (layer, "Verifying Checksum".to_string()),
        PullEvent::LayerExtracting { layer } => (layer, "Extracting".to_string()),
        PullEvent::LayerDone { layer } => (layer, "Pull complete".to_string()),
        PullEvent::Resolving | PullEvent::Done { .. } => return None,
    };
    Some((short_layer(layer), text))
}

/// Whether a layer's line is final.
fn layer_final(event: &PullEvent) -> bool {
    matches!(
        event,
        PullEvent::LayerExists { .. } | PullEvent::LayerDone { .. }
    )
}

/// What the image's own line says after `event`.
fn image_status(event: &PullEvent) -> Option<&'static str> {
    match event {
        PullEvent::Resolving => Some("Pulling"),
        PullEvent::Done { .. } => Some("Pulled"),
        _ => None,
    }
}

/// One line per event (downloads: on each further tenth, or each second), for logs and CI.
pub struct PlainPull {
    out: Mutex<Box<dyn Write + Send>>,
    /// Per (image, layer): the tenth and time of the last `Downloading` line.
    shown: Mutex<HashMap<(String, String), (u64, Instant)>>,
}

impl PlainPull {
    pub fn new(out: Box<dyn Write + Send>) -> PlainPull {
        PlainPull {
            out: Mutex::new(out),
            shown: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this `Downloading` event earns a line.
    fn due(&self, image: &str, layer: &str, done: u64, total: u64) -> bool {
        let tenth = if total == 0 {
            0
        } else {
            (done.min(total) as u128 * 10 / total as u128) as u64
        };
        let now = Instant::now();
        let Ok(mut shown) = self.shown.lock() else {
            return true;
        };
        match shown.get(&(image.to_string(), layer.to_string())) {
            Some((t, at)) if *t >= tenth && now.duration_since(*at) < PLAIN_INTERVAL => false,
            _ => {
                shown.insert((image.to_string(), layer.to_string()), (tenth, now));
                true
            }
        }
    }
}

impl PullProgress for PlainPull {
    fn event(&self, image: &str, event: PullEvent) {
        let line = if let Some(text) = image_status(&event) {
            format!(" {image} {text}")
        } else if let Some((layer, text)) = layer_status(&event) {
            if let PullEvent::LayerDownloading { done, total, .. } = &event {
                if !self.due(image, &layer, *done, *total) {
                    return;
                }
            }
            format!(" {image} {layer} {text}")
        } else {
            return;
        };
        if let Ok(mut out) = self.out.lock() {
            // Progress is best effort: a closed standard error must not fail the pull.
            let _ = writeln!(out, "{line}");
        }
    }
}

/// `--progress json`: one object per event, as the other commands' events.
pub struct JsonPull {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonPull {
    pub fn new(out: Box<dyn Write + Send>) -> JsonPull {
        JsonPull {
            out: Mutex::new(out),
        }
    }
}

/// The JSON object for one event.
pub fn json_event(image: &str, event: &PullEvent) -> serde_json::Value {
    if let Some(text) = image_status(event) {
        let mut v = serde_json::json!({
            "id": format!("Image {image}"),
            "text": text,
            "status": if text == "Pulled" { "Done" } else { "Working" },
        });
        if let PullEvent::Done { id, digest } = event {
            v["image_id"] = id.clone().into();
            v["digest"] = digest.clone().into();
        }
        return v;
    }
    let Some((layer, _)) = layer_status(event) else {
        return serde_json::Value::Null;
    };
    let text = match event {
        PullEvent::LayerWaiting { .. } => "Waiting",
        PullEvent::LayerExists { .. } => "Already exists",
        PullEvent::LayerDownloading { .. } => "Downloading",
        PullEvent::LayerVerifying { .. } => "Verifying Checksum",
        PullEvent::LayerExtracting { .. } => "Extracting",
        _ => "Pull complete",
    };
    let mut v = serde_json::json!({
        "id": layer,
        "parent_id": format!("Image {image}"),
        "text": text,
        "status": if layer_final(event) { "Done" } else { "Working" },
    });
    match event {
        PullEvent::LayerDownloading { done, total, .. } => {
            v["current"] = (*done).into();
            v["total"] = (*total).into();
        }
        PullEvent::LayerWaiting { size, .. } => v["total"] = (*size).into(),
        _ => {}
    }
    v
}

impl PullProgress for JsonPull {
    fn event(&self, image: &str, event: PullEvent) {
        let v = json_event(image, &event);
        if v.is_null() {
            return;
        }
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{v}");
        }
    }
}

/// Docker's live display, drawn in the command's [`MultiProgress`].
pub struct TtyPull {
    multi: MultiProgress,
    state: Mutex<TtyState>,
}

#[derive(Default)]
struct TtyState {
    header: Option<ProgressBar>,
    /// Per image: its line and the last line under it (where its next layer goes).
    images: HashMap<String, (ProgressBar, ProgressBar)>,
    /// Images in the order their lines were made.
    order: Vec<String>,
    layers: HashMap<(String, String), ProgressBar>,
    done: usize,
}

impl TtyPull {
    pub fn new(multi: MultiProgress) -> TtyPull {
        TtyPull {
            multi,
            state: Mutex::new(TtyState::default()),
        }
    }

    fn style(template: &str) -> ProgressStyle {
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
    }

    fn line(&self, after: Option<&ProgressBar>, prefix: String, working: bool) -> ProgressBar {
        let bar = match after {
            Some(a) => self.multi.insert_after(a, ProgressBar::new_spinner()),
            None => self.multi.add(ProgressBar::new_spinner()),
        };
        bar.set_prefix(prefix);
        Self::set_working(&bar, working);
        bar
    }

    fn set_working(bar: &ProgressBar, working: bool) {
        if working {
            bar.set_style(Self::style(" {spinner} {prefix} {msg}"));
            bar.enable_steady_tick(Duration::from_millis(100));
        } else {
            bar.set_style(Self::style(" \u{2714} {prefix} {msg}"));
            bar.finish();
        }
    }
}

impl PullProgress for TtyPull {
    fn event(&self, image: &str, event: PullEvent) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let st = &mut *st;
        if st.header.is_none() {
            let h = self.multi.add(ProgressBar::new_spinner());
            h.set_style(Self::style("[+] {msg}"));
            st.header = Some(h);
        }
        if !st.images.contains_key(image) {
            let after = st
                .order
                .last()
                .and_then(|i| st.images.get(i))
                .map(|(_, last)| last.clone())
                .or_else(|| st.header.clone());
            let bar = self.line(after.as_ref(), image.to_string(), true);
            bar.set_message("Pulling");
            st.images.insert(image.to_string(), (bar.clone(), bar));
            st.order.push(image.to_string());
        }
        if let Some(text) = image_status(&event) {
            if let Some((bar, _)) = st.images.get(image) {
                bar.set_message(text);
                Self::set_working(bar, text != "Pulled");
            }
            if text == "Pulled" {
                st.done += 1;
            }
        } else if let Some((layer, text)) = layer_status(&event) {
            let key = (image.to_string(), layer.clone());
            if !st.layers.contains_key(&key) {
                let last = st.images.get(image).map(|(_, last)| last.clone());
                let bar = self.line(last.as_ref(), format!("  {layer}"), true);
                if let Some(entry) = st.images.get_mut(image) {
                    entry.1 = bar.clone();
                }
                st.layers.insert(key.clone(), bar);
            }
            if let Some(bar) = st.layers.get(&key) {
                bar.set_message(text);
                Self::set_working(bar, !layer_final(&event));
            }
        }
        if let Some(h) = &st.header {
            h.set_message(format!("Pulling {}/{}", st.done, st.images.len()));
            if st.done == st.images.len() {
                h.finish();
            }
        }
    }
}

impl Drop for TtyPull {
    fn drop(&mut self) {
        if let Ok(st) = self.state.lock() {
            let bars = st
                .images
                .values()
                .map(|(b, _)| b)
                .chain(st.layers.values())
                .chain(st.header.iter());
            for b in bars {
                if !b.is_finished() {
                    b.abandon();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
        }
    }

    const L1: &str = "sha256:1a2b3c4d5e6f77778888999900001111222233334444555566667777888899aa";
    const L2: &str = "sha256:ffeeddccbbaa00001111222233334444555566667777888899990000aaaabbbb";

    /// A pull as the puller reports it: one layer present, one downloaded in 1% steps.
    fn recorded() -> Vec<PullEvent> {
        let total = 45_600_000;
        let mut ev = vec![
            PullEvent::Resolving,
            PullEvent::LayerExists { layer: L2.into() },
            PullEvent::LayerWaiting {
                layer: L1.into(),
                size: total,
            },
        ];
        for i in 0..=100 {
            ev.push(PullEvent::LayerDownloading {
                layer: L1.into(),
                done: total * i / 100,
                total,
            });
        }
        ev.extend([
            PullEvent::LayerVerifying { layer: L1.into() },
            PullEvent::LayerExtracting { layer: L1.into() },
            PullEvent::LayerDone { layer: L1.into() },
            PullEvent::Done {
                id: "sha256:abc".into(),
                digest: "sha256:def".into(),
            },
        ]);
        ev
    }

    #[test]
    fn layer_lines_read_as_dockers() {
        assert_eq!(short_layer(L1), "1a2b3c4d5e6f");
        assert_eq!(bar(0, 10), format!("[>{}]", " ".repeat(BAR_WIDTH - 1)));
        assert_eq!(bar(10, 10), format!("[{}]", "=".repeat(BAR_WIDTH)));
        assert_eq!(
            bar(5, 10),
            format!("[{}>{}]", "=".repeat(25), " ".repeat(24))
        );
        let (layer, text) = layer_status(&PullEvent::LayerDownloading {
            layer: L1.into(),
            done: 12_300_000,
            total: 45_600_000,
        })
        .expect("a layer event");
        assert_eq!(layer, "1a2b3c4d5e6f");
        assert!(text.starts_with("Downloading [=============>"), "{text}");
        assert!(text.ends_with("] 12.3MB/45.6MB"), "{text}");
        assert_eq!(
            layer_status(&PullEvent::LayerDone { layer: L1.into() }),
            Some(("1a2b3c4d5e6f".into(), "Pull complete".into()))
        );
        assert_eq!(
            layer_status(&PullEvent::LayerVerifying { layer: L1.into() }).map(|(_, t)| t),
            Some("Verifying Checksum".into())
        );
        assert_eq!(layer_status(&PullEvent::Resolving), None);
        // An oversized `done` (a hostile size header) still draws a full bar, no panic.
        assert_eq!(bar(u64::MAX, 1), format!("[{}]", "=".repeat(BAR_WIDTH)));
        assert_eq!(bar(1, 0), format!("[>{}]", " ".repeat(BAR_WIDTH - 1)));
    }

    #[test]
    fn plain_lines_name_image_and_layer_and_rate_limit_downloads() {
        let out = Captured::default();
        let p = PlainPull::new(Box::new(out.clone()));
        for e in recorded() {
            p.event("web", e);
        }
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], " web Pulling");
        assert_eq!(lines[1], " web ffeeddccbbaa Already exists");
        assert_eq!(lines[2], " web 1a2b3c4d5e6f Waiting");
        let downloads = lines.iter().filter(|l| l.contains("Downloading")).count();
        // 0%, then each further tenth: 11 lines, not 101.
        assert_eq!(downloads, 11, "{text}");
        assert!(lines.contains(&" web 1a2b3c4d5e6f Verifying Checksum"));
        assert!(lines.contains(&" web 1a2b3c4d5e6f Extracting"));
        assert!(lines.contains(&" web 1a2b3c4d5e6f Pull complete"));
        assert_eq!(lines.last(), Some(&" web Pulled"));
    }

    #[test]
    fn json_gives_one_object_per_event() {
        let out = Captured::default();
        let p = JsonPull::new(Box::new(out.clone()));
        let events = recorded();
        let n = events.len();
        for e in events {
            p.event("web", e);
        }
        let text = out.text();
        let objs: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        assert_eq!(objs.len(), n);
        assert_eq!(objs[0]["id"], "Image web");
        assert_eq!(objs[0]["text"], "Pulling");
        assert_eq!(objs[1]["id"], "ffeeddccbbaa");
        assert_eq!(objs[1]["status"], "Done");
        let dl = &objs[53];
        assert_eq!(dl["text"], "Downloading");
        assert_eq!(dl["parent_id"], "Image web");
        assert_eq!(dl["total"], 45_600_000);
        assert_eq!(dl["current"], 45_600_000 / 2);
        let last = &objs[n - 1];
        assert_eq!(last["status"], "Done");
        assert_eq!(last["digest"], "sha256:def");
    }

    #[test]
    fn the_terminal_display_counts_images_and_survives_every_event() {
        let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let t = TtyPull::new(multi);
        for e in recorded() {
            t.event("web", e);
        }
        t.event("db", PullEvent::Resolving);
        let st = t.state.lock().expect("lock");
        assert_eq!(st.images.len(), 2);
        assert_eq!(st.done, 1);
        assert_eq!(st.layers.len(), 2);
        assert_eq!(
            st.header.as_ref().map(|h| h.message()),
            Some("Pulling 1/2".to_string())
        );
        let web = &st.images["web"].0;
        assert!(web.is_finished());
        assert_eq!(web.message(), "Pulled");
        let l1 = &st.layers[&("web".to_string(), "1a2b3c4d5e6f".to_string())];
        assert_eq!(l1.message(), "Pull complete");
    }
}
