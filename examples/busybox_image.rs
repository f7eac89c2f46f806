//! Writes a busybox image archive made from Debian's busybox-static (no internet needed), ready
//! for `compose image load -i FILE`.
//!
//! Run: `cargo run --example busybox_image -- [OUT.tar] [NAME]` (defaults: busybox.tar,
//! busybox:latest). Needs /bin/busybox (`apt-get install busybox-static`).

use compose::engine::image::testimage::{ArchiveFormat, TestImage};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "busybox.tar".into()));
    let image = TestImage {
        name: args.next().unwrap_or_else(|| "busybox:latest".into()),
        ..TestImage::default()
    };
    let bytes = image.archive(ArchiveFormat::Oci)?;
    std::fs::write(&out, bytes)?;
    println!("wrote {} ({})", out.display(), image.name);
    Ok(())
}
