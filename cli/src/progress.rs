//! Copy progress for a person: one bar per blob on a terminal (indicatif), podman's plain lines otherwise
//! (`Copying blob 9ad63333ebc9 done`), nothing with `-q`. Made by [`Printer::copy_progress`], which decides
//! which; lines go through the printer (stderr), stdout keeps the result.

use std::collections::HashMap;
use std::sync::Mutex;

use hoist_core::copy::{BlobOutcome, CopyProgress, Report};
use hoist_core::image::Descriptor;
use hoist_core::transport::RawManifest;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::commands::common::{human_size, short};
use crate::printer::Printer;

/// The CLI's [`CopyProgress`]: bars on a terminal, else lines through the printer (none with `-q`).
pub enum CopyReporter {
    Bars { multi: MultiProgress, bars: Mutex<HashMap<String, ProgressBar>> },
    Lines(Printer),
}

impl CopyReporter {
    /// Bars drawn on `target`; only [`Printer::copy_progress`] makes them (on stderr, when it is a terminal).
    pub(crate) fn bars(target: ProgressDrawTarget) -> CopyReporter {
        CopyReporter::Bars { multi: MultiProgress::with_draw_target(target), bars: Mutex::new(HashMap::new()) }
    }

    fn line(&self, text: &str) {
        match self {
            CopyReporter::Bars { multi, .. } => {
                let _ = multi.println(hoist_core::observe::terminal_safe(text));
            }
            CopyReporter::Lines(printer) => printer.progress_line(text),
        }
    }

    /// The closing line: what moved and what was skipped.
    pub fn summary(&self, report: &Report) {
        let mut parts = vec![format!("copied {} blob(s), {}", report.copied, human_size(report.bytes_copied))];
        if report.skipped > 0 {
            parts.push(format!("skipped {} already present", report.skipped));
        }
        if report.mounted > 0 {
            parts.push(format!("mounted {}", report.mounted));
        }
        if report.foreign > 0 {
            parts.push(format!("left {} foreign layer(s) referenced", report.foreign));
        }
        self.line(&parts.join(", "));
    }
}

fn what(blob: &Descriptor) -> &'static str {
    if blob.media_type.contains("config") { "config" } else { "blob" }
}

impl CopyProgress for CopyReporter {
    fn blob_started(&self, blob: &Descriptor) {
        if let CopyReporter::Bars { multi, bars } = self {
            let bar = multi.add(ProgressBar::new(blob.size));
            bar.set_style(
                ProgressStyle::with_template("Copying {prefix} {bar:30} {bytes}/{total_bytes} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(format!("{} {}", what(blob), short(&blob.digest)));
            bars.lock().unwrap_or_else(|e| e.into_inner()).insert(blob.digest.to_string(), bar);
        }
    }

    fn blob_progress(&self, blob: &Descriptor, bytes: u64) {
        if let CopyReporter::Bars { bars, .. } = self
            && let Some(bar) = bars.lock().unwrap_or_else(|e| e.into_inner()).get(&blob.digest.to_string())
        {
            bar.set_position(bytes);
        }
    }

    fn blob_finished(&self, blob: &Descriptor, outcome: BlobOutcome) {
        let how = match outcome {
            BlobOutcome::Copied => "done",
            BlobOutcome::Skipped => "skipped: already exists",
            BlobOutcome::Mounted => "mounted from another repository",
            BlobOutcome::Foreign => "skipped: foreign layer",
        };
        match self {
            CopyReporter::Bars { bars, .. } => {
                if let Some(bar) = bars.lock().unwrap_or_else(|e| e.into_inner()).get(&blob.digest.to_string()) {
                    bar.set_position(blob.size);
                    bar.finish_with_message(how);
                }
            }
            CopyReporter::Lines(printer) => {
                printer.progress_line(&format!("Copying {} {} {how}", what(blob), short(&blob.digest)))
            }
        }
    }

    fn manifest_written(&self, _manifest: &RawManifest) {
        self.line("Writing manifest to image destination");
    }
}
